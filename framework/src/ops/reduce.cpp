// Reductions and softmax, with gradients. Every reduction walks its axis in index order.
#include <algorithm>
#include <limits>

#include "kernels.hpp"
#include "nnx/ops.hpp"
#include "nnx/portable_math.hpp"

namespace nnx {

using detail::Grads;
using detail::Node;

namespace {
// The array seen as (outer, n, inner) around `axis`.
struct AxisView {
  std::int64_t outer = 1, n = 1, inner = 1;
};
AxisView view(const Shape& s, int axis) {
  AxisView v;
  for (int d = 0; d < static_cast<int>(s.size()); ++d) {
    const std::int64_t dim = s[static_cast<std::size_t>(d)];
    if (d < axis) v.outer *= dim;
    else if (d == axis) v.n = dim;
    else v.inner *= dim;
  }
  return v;
}

std::vector<int> sorted_axes(const char* op, std::vector<int> axes, int rank) {
  if (axes.empty())
    for (int d = 0; d < rank; ++d) axes.push_back(d);
  for (int& a : axes) a = detail::normalize_axis(op, a, rank);
  std::sort(axes.begin(), axes.end());
  if (std::adjacent_find(axes.begin(), axes.end()) != axes.end()) throw Error(std::string(op) + ": an axis is repeated");
  return axes;
}

Shape keep_shape(Shape s, int axis) {
  s[static_cast<std::size_t>(axis)] = 1;
  return s;
}

// Sum over one axis, keeping it as size 1.
Array sum_axis(const Array& a, int axis) {
  const Shape out_shape = keep_shape(a.shape(), axis);
  if (a.is_abstract()) return Array::abstract(out_shape, a.dtype());
  Array out = Array::zeros(out_shape, a.dtype());
  const AxisView v = view(a.shape(), axis);
  detail::floating("sum", a, [&](auto t) {
    using T = decltype(t);
    const T* x = a.data<T>();
    T* y = out.mutable_data<T>();
    for (std::int64_t o = 0; o < v.outer; ++o)
      for (std::int64_t j = 0; j < v.n; ++j) {
        const T* row = x + (o * v.n + j) * v.inner;
        T* acc = y + o * v.inner;
        for (std::int64_t i = 0; i < v.inner; ++i) acc[i] += row[i];
      }
  });
  detail::record(out, "sum", {a}, {}, [](const Array& g, const Node&, Grads& d) {
    d[0] = add(Array::zeros(d.shape(0), g.dtype()), g);  // broadcasts g back along the axis
  });
  return out;
}

// Max over one axis (kept as size 1); the gradient goes to the first maximum.
Array max_axis(const Array& a, int axis) {
  const Shape out_shape = keep_shape(a.shape(), axis);
  if (a.is_abstract()) return Array::abstract(out_shape, a.dtype());
  const AxisView v = view(a.shape(), axis);
  if (v.n == 0) throw Error("max: cannot reduce an empty axis of " + a.shape_dtype().str());
  Array out = Array::empty(out_shape, a.dtype());
  Array winners = Array::empty(out_shape, DType::int64);
  std::int64_t* winner = winners.mutable_data<std::int64_t>();
  detail::floating("max", a, [&](auto t) {
    using T = decltype(t);
    const T* x = a.data<T>();
    T* y = out.mutable_data<T>();
    for (std::int64_t o = 0; o < v.outer; ++o)
      for (std::int64_t i = 0; i < v.inner; ++i) {
        std::int64_t best = 0;
        for (std::int64_t j = 1; j < v.n; ++j)
          if (x[(o * v.n + j) * v.inner + i] > x[(o * v.n + best) * v.inner + i]) best = j;
        y[o * v.inner + i] = x[(o * v.n + best) * v.inner + i];
        winner[o * v.inner + i] = best;
      }
  });
  const detail::Rule rule = [](const Array& g, const Node& n, Grads& d) {
    const AxisView v = view(d.shape(0), static_cast<int>(n.num[0]));
    const std::int64_t* winner = n.saved[0].data<std::int64_t>();
    Array ga = Array::zeros(d.shape(0), g.dtype());
    detail::floating("max backward", g, [&](auto t) {
      using T = decltype(t);
      T* p = ga.mutable_data<T>();
      const T* gp = g.data<T>();
      for (std::int64_t o = 0; o < v.outer; ++o)
        for (std::int64_t i = 0; i < v.inner; ++i)
          p[(o * v.n + winner[o * v.inner + i]) * v.inner + i] = gp[o * v.inner + i];
    });
    d[0] = std::move(ga);
  };
  detail::record(out, "max", {a}, {.arrays = {winners}, .num = {double(axis)}}, rule);
  return out;
}

template <class Reduce> Array reduce(const char* op, const Array& a, std::vector<int> axes, bool keepdims, Reduce r) {
  axes = sorted_axes(op, std::move(axes), a.ndim());
  Array out = a;
  for (int ax : axes) out = r(out, ax);
  if (keepdims) return out;
  Shape s;
  for (int d = 0; d < a.ndim(); ++d)
    if (!std::binary_search(axes.begin(), axes.end(), d)) s.push_back(a.shape()[static_cast<std::size_t>(d)]);
  return reshape(out, s);
}

void softmax_rule(const Array& g, const Node& n, Grads& d);

// Softmax or log-softmax along `axis`; their gradients differ, so both live here.
Array softmax_impl(const Array& a, int axis, bool log_space) {
  const char* op = log_space ? "log_softmax" : "softmax";
  const int ax = detail::normalize_axis(op, axis, a.ndim());
  if (a.is_abstract()) return Array::abstract(a.shape(), a.dtype());
  const AxisView v = view(a.shape(), ax);
  Array out = Array::empty(a.shape(), a.dtype());
  detail::floating(op, a, [&](auto t) {
    using T = decltype(t);
    const T* x = a.data<T>();
    T* y = out.mutable_data<T>();
    for (std::int64_t o = 0; o < v.outer; ++o)
      for (std::int64_t i = 0; i < v.inner; ++i) {
        auto at = [&](std::int64_t j) { return (o * v.n + j) * v.inner + i; };
        double m = -std::numeric_limits<double>::infinity();
        for (std::int64_t j = 0; j < v.n; ++j) m = std::max(m, static_cast<double>(x[at(j)]));
        double s = 0;
        for (std::int64_t j = 0; j < v.n; ++j) s += portable::exp(x[at(j)] - m);
        const double log_s = portable::log(s);
        for (std::int64_t j = 0; j < v.n; ++j) {
          const double z = x[at(j)] - m - log_s;
          y[at(j)] = static_cast<T>(log_space ? z : portable::exp(z));
        }
      }
  });
  detail::record(out, op, {a}, {.arrays = {out}, .num = {double(ax), log_space ? 1.0 : 0.0}}, softmax_rule);
  return out;
}

// The rule of softmax_impl: saved (the output), num = (axis, log_space).
void softmax_rule(const Array& g, const Node& n, Grads& d) {
  const Array& y = n.saved[0];
  const AxisView v = view(g.shape(), static_cast<int>(n.num[0]));
  const bool log_space = n.num[1] != 0;
  Array ga = Array::empty(g.shape(), g.dtype());
  detail::floating("softmax backward", g, [&](auto t) {
    using T = decltype(t);
    const T* gp = g.data<T>();
    const T* yp = y.data<T>();
    T* dx = ga.mutable_data<T>();
    for (std::int64_t o = 0; o < v.outer; ++o)
      for (std::int64_t i = 0; i < v.inner; ++i) {
        auto at = [&](std::int64_t j) { return (o * v.n + j) * v.inner + i; };
        double dot = 0;  // softmax: sum g*y; log_softmax: sum g
        for (std::int64_t j = 0; j < v.n; ++j) dot += log_space ? gp[at(j)] : gp[at(j)] * yp[at(j)];
        for (std::int64_t j = 0; j < v.n; ++j) {
          const double p = log_space ? portable::exp(yp[at(j)]) : yp[at(j)];
          dx[at(j)] = static_cast<T>(log_space ? gp[at(j)] - p * dot : p * (gp[at(j)] - dot));
        }
      }
  });
  d[0] = std::move(ga);
}
}  // namespace

Array sum(const Array& a, std::vector<int> axes, bool keepdims) {
  return reduce("sum", a, std::move(axes), keepdims, sum_axis);
}

Array mean(const Array& a, std::vector<int> axes, bool keepdims) {
  std::vector<int> sorted = sorted_axes("mean", axes, a.ndim());
  std::int64_t count = 1;
  for (int ax : sorted) count *= a.shape()[static_cast<std::size_t>(ax)];
  if (count == 0) throw Error("mean: cannot average over an empty axis of " + a.shape_dtype().str());
  return scale(sum(a, std::move(sorted), keepdims), 1.0 / static_cast<double>(count));
}

Array max(const Array& a, std::vector<int> axes, bool keepdims) {
  return reduce("max", a, std::move(axes), keepdims, max_axis);
}

Array softmax(const Array& a, int axis) { return softmax_impl(a, axis, false); }
Array log_softmax(const Array& a, int axis) { return softmax_impl(a, axis, true); }

Array argmax(const Array& a) {
  if (a.ndim() < 1 || a.dim(-1) == 0) throw Error("argmax: expected (..., n) with n > 0, got " + a.shape_dtype().str());
  Shape s = a.shape();
  s.pop_back();
  if (a.is_abstract()) return Array::abstract(s, DType::int32);
  Array out = Array::empty(s, DType::int32);
  const std::int64_t n = a.dim(-1);
  detail::floating("argmax", a, [&](auto t) {
    using T = decltype(t);
    const T* x = a.data<T>();
    auto* y = out.mutable_data<std::int32_t>();
    for (std::int64_t r = 0; r < out.numel(); ++r) {
      std::int64_t best = 0;
      for (std::int64_t j = 1; j < n; ++j)
        if (x[r * n + j] > x[r * n + best]) best = j;
      y[r] = static_cast<std::int32_t>(best);
    }
  });
  return out;
}

}  // namespace nnx
