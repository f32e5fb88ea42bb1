// Elementwise arithmetic with NumPy broadcasting, and its gradients.
#include <cmath>

#include "kernels.hpp"
#include "nnx/ops.hpp"
#include "nnx/portable_math.hpp"

namespace nnx {

using detail::Grads;
using detail::Node;
using detail::Saved;

namespace {
// Forward of a broadcasting binary op: out = f(a, b).
template <class F> Array binary(const char* op, const Array& a, const Array& b, F f) {
  detail::check_same_dtype(op, a, b);
  const detail::Broadcast p = detail::broadcast(op, a.shape(), b.shape());
  if (a.is_abstract() || b.is_abstract()) return Array::abstract(p.out, a.dtype());
  Array out = Array::empty(p.out, a.dtype());
  detail::floating(op, a, [&](auto t) {
    using T = decltype(t);
    detail::broadcast_apply<T>(p, a.data<T>(), b.data<T>(), out.mutable_data<T>(), f);
  });
  return out;
}

// A broadcasting binary op's rule: Rule{} gives full-shape gradients; each is summed back to its
// input's shape.
template <class Rule> void broadcast_rule(const Array& g, const Node& n, Grads& d) {
  Rule{}(g, n, d);
  for (std::size_t i = 0; i < 2; ++i)
    if (d.wanted(i)) d[i] = detail::sum_to_shape(d[i], d.shape(i));
}
template <class Rule>
void record_binary(Array& out, const char* op, const Array& a, const Array& b, const Saved& saved, Rule) {
  detail::record(out, op, {a, b}, saved, &broadcast_rule<Rule>);
}

// v^e, exactly for small integer exponents (pow's forward and its rule share it).
double power(double v, double e) {
  if (e == 2.0) return v * v;
  if (e == 1.0) return v;
  if (e == 0.5) return std::sqrt(v);
  if (e == std::floor(e) && std::fabs(e) <= 64) {  // exact repeated multiplication
    double r = 1, b = v;
    for (long long n = static_cast<long long>(std::fabs(e)); n; n >>= 1, b *= b)
      if (n & 1) r *= b;
    return e < 0 ? 1.0 / r : r;
  }
  if (v < 0) return std::numeric_limits<double>::quiet_NaN();
  if (v == 0) return e > 0 ? 0.0 : std::numeric_limits<double>::infinity();
  return portable::exp(e * portable::log(v));
}
}  // namespace

Array add(const Array& a, const Array& b) {
  Array out = binary("add", a, b, [](auto x, auto y) { return x + y; });
  record_binary(out, "add", a, b, {}, [](const Array& g, const Node&, Grads& d) {
    d[0] = g;
    d[1] = g;
  });
  return out;
}

Array sub(const Array& a, const Array& b) {
  Array out = binary("sub", a, b, [](auto x, auto y) { return x - y; });
  record_binary(out, "sub", a, b, {}, [](const Array& g, const Node&, Grads& d) {
    d[0] = g;
    if (d.wanted(1)) d[1] = neg(g);
  });
  return out;
}

Array mul(const Array& a, const Array& b) {
  Array out = binary("mul", a, b, [](auto x, auto y) { return x * y; });
  record_binary(out, "mul", a, b, {.arrays = {a, b}}, [](const Array& g, const Node& n, Grads& d) {
    if (d.wanted(0)) d[0] = mul(g, n.saved[1]);
    if (d.wanted(1)) d[1] = mul(g, n.saved[0]);
  });
  return out;
}

Array div(const Array& a, const Array& b) {
  Array out = binary("div", a, b, [](auto x, auto y) { return x / y; });
  record_binary(out, "div", a, b, {.arrays = {a, b}}, [](const Array& g, const Node& n, Grads& d) {
    const Array &a = n.saved[0], &b = n.saved[1];
    if (d.wanted(0)) d[0] = div(g, b);
    if (d.wanted(1)) d[1] = neg(div(mul(g, a), mul(b, b)));
  });
  return out;
}

Array maximum(const Array& a, const Array& b) {
  Array out = binary("maximum", a, b, [](auto x, auto y) { return x >= y ? x : y; });
  record_binary(out, "maximum", a, b, {.arrays = {a, b}}, [](const Array& g, const Node& n, Grads& d) {
    // 1 in the broadcast shape where a wins (ties go to a), else 0
    const Array a_wins =
        binary("maximum", n.saved[0], n.saved[1], [](auto x, auto y) { return decltype(x)(x >= y ? 1 : 0); });
    if (d.wanted(0)) d[0] = mul(g, a_wins);
    if (d.wanted(1)) d[1] = mul(g, add_scalar(neg(a_wins), 1.0));
  });
  return out;
}

Array scale(const Array& a, double factor) {
  Array out = detail::map_unary("scale", a, [factor](auto v) { return static_cast<decltype(v)>(v * factor); });
  detail::record_unary(out, "scale", a, {factor}, [](auto g, auto, auto, const auto& k) {
    return static_cast<decltype(g)>(g * k[0]);
  });
  return out;
}

Array add_scalar(const Array& a, double value) {
  Array out = detail::map_unary("add_scalar", a, [value](auto v) { return static_cast<decltype(v)>(v + value); });
  detail::record_unary(out, "add_scalar", a, [](auto g, auto, auto) { return g; });
  return out;
}

Array neg(const Array& a) {
  Array out = detail::map_unary("neg", a, [](auto v) { return -v; });
  detail::record_unary(out, "neg", a, [](auto g, auto, auto) { return -g; });
  return out;
}

Array exp(const Array& a) {
  Array out = detail::map_unary("exp", a, [](auto v) { return static_cast<decltype(v)>(portable::exp(v)); });
  detail::record_unary(out, "exp", a, [](auto g, auto, auto y) { return g * y; });
  return out;
}

Array log(const Array& a) {
  Array out = detail::map_unary("log", a, [](auto v) {
    using T = decltype(v);
    if (v < 0 || std::isnan(v)) return std::numeric_limits<T>::quiet_NaN();
    if (v == 0) return -std::numeric_limits<T>::infinity();
    return static_cast<T>(portable::log(v));
  });
  detail::record_unary(out, "log", a, [](auto g, auto x, auto) { return g / x; });
  return out;
}

Array sqrt(const Array& a) {
  Array out = detail::map_unary("sqrt", a, [](auto v) { return std::sqrt(v); });  // IEEE: correctly rounded
  detail::record_unary(out, "sqrt", a, [](auto g, auto, auto y) { return g * (decltype(y)(0.5) / y); });
  return out;
}

Array pow(const Array& a, double exponent) {
  Array out = detail::map_unary("pow", a, [exponent](auto v) { return static_cast<decltype(v)>(power(v, exponent)); });
  // e * x^(e-1) directly: e * x^e / x would be 0/0 = NaN at x = 0 (e.g. pow(relu(x), 3)).
  detail::record_unary(out, "pow", a, {exponent}, [](auto g, double x, double, const auto& k) {
    return g * static_cast<decltype(g)>(k[0] == 0 ? 0.0 : k[0] * power(x, k[0] - 1));
  });
  return out;
}

Array square(const Array& a) { return pow(a, 2.0); }

Array abs(const Array& a) {
  Array out = detail::map_unary("abs", a, [](auto v) { return v < 0 ? -v : v; });
  detail::record_unary(out, "abs", a, [](auto g, auto x, auto) { return x > 0 ? g : (x < 0 ? -g : decltype(g)(0)); });
  return out;
}

Array clip(const Array& a, double lo, double hi) {
  if (!(lo <= hi)) throw Error("clip: lower bound " + std::to_string(lo) + " is above upper bound " + std::to_string(hi));
  Array out = detail::map_unary("clip", a, [lo, hi](auto v) {
    using T = decltype(v);
    return v < static_cast<T>(lo) ? static_cast<T>(lo) : (v > static_cast<T>(hi) ? static_cast<T>(hi) : v);
  });
  detail::record_unary(out, "clip", a, {lo, hi}, [](auto g, double x, double, const auto& k) {
    return (x >= k[0] && x <= k[1]) ? g : decltype(g)(0);
  });
  return out;
}

Array where(const Array& cond, const Array& a, const Array& b) {
  detail::check_same_dtype("where", a, b);
  if (!(cond.shape() == a.shape()) || !(a.shape() == b.shape()))
    throw Error("where: cond, a and b must have one shape, got " + cond.shape_dtype().str() + ", " +
                a.shape_dtype().str() + ", " + b.shape_dtype().str());
  Array mask = cond.astype(a.dtype());
  detail::floating("where", mask, [&](auto t) {
    using T = decltype(t);
    T* m = mask.mutable_data<T>();
    for (std::int64_t i = 0; i < mask.numel(); ++i) m[i] = m[i] != 0 ? T(1) : T(0);
  });
  Array out = binary("where", a, b, [](auto x, auto) { return x; });
  detail::floating("where", out, [&](auto t) {
    using T = decltype(t);
    T* o = out.mutable_data<T>();
    const T* m = mask.data<T>();
    const T* y = b.data<T>();
    for (std::int64_t i = 0; i < out.numel(); ++i) o[i] = m[i] != 0 ? o[i] : y[i];
  });
  record_binary(out, "where", a, b, {.arrays = {mask}}, [](const Array& g, const Node& n, Grads& d) {
    if (d.wanted(0)) d[0] = mul(g, n.saved[0]);
    if (d.wanted(1)) d[1] = mul(g, add_scalar(neg(n.saved[0]), 1.0));
  });
  return out;
}

Array greater(const Array& a, const Array& b) {
  return binary("greater", a, b, [](auto x, auto y) { return decltype(x)(x > y ? 1 : 0); });
}

Array stop_gradient(const Array& a) {
  Array out = a;
  detail::TapeAccess::clear(out);
  return out;
}

}  // namespace nnx
