#include "nnx/ops.hpp"

#include <cmath>

#include "nnx/eigen.hpp"
#include "nnx/error.hpp"
#include "nnx/init.hpp"

namespace nnx {

namespace {
// Calls f(T{}) for float32 / float64 arrays; other dtypes are an error naming the operation.
template <class F> decltype(auto) floating(const char* op, const Array& a, F&& f) {
  if (a.dtype() == DType::float32) return f(float{});
  if (a.dtype() == DType::float64) return f(double{});
  throw Error(std::string(op) + ": expected a float32 or float64 array, got " + a.shape_dtype().str());
}

void check_same_dtype(const char* op, const Array& a, const Array& b) {
  if (a.dtype() != b.dtype())
    throw Error(std::string(op) + ": dtypes differ: " + a.shape_dtype().str() + " and " + b.shape_dtype().str() +
                "; convert one with astype()");
}

// Applies op elementwise, broadcasting b (a suffix of a's shape) over a's leading axes.
template <class Op> Array broadcast_binary(const char* name, const Array& a, const Array& b, Op op) {
  check_same_dtype(name, a, b);
  const Shape &as = a.shape(), &bs = b.shape();
  bool suffix = bs.size() <= as.size() && std::equal(bs.begin(), bs.end(), as.end() - static_cast<std::ptrdiff_t>(bs.size()));
  if (!suffix)
    throw Error(std::string(name) + ": cannot broadcast " + b.shape_dtype().str() + " against " + a.shape_dtype().str() +
                "; the second shape must equal the first or a suffix of it");
  if (a.is_abstract() || b.is_abstract()) return Array::abstract(as, a.dtype());
  Array out = Array::empty(as, a.dtype());
  floating(name, a, [&](auto t) {
    using T = decltype(t);
    const Eigen::Index inner = static_cast<Eigen::Index>(b.numel());
    const Eigen::Index outer = inner == 0 ? 0 : static_cast<Eigen::Index>(a.numel()) / inner;
    eigen::ConstMatrixMap<T> x(a.data<T>(), outer, inner);
    Eigen::Map<const Eigen::Matrix<T, 1, Eigen::Dynamic>> y(b.data<T>(), inner);
    eigen::MatrixMap<T> z(out.mutable_data<T>(), outer, inner);
    for (Eigen::Index r = 0; r < outer; ++r) z.row(r) = op(x.row(r).array(), y.array()).matrix();
  });
  return out;
}

template <class F> Array unary(const char* name, const Array& x, F f) {
  if (x.is_abstract()) return Array::abstract(x.shape(), x.dtype());
  Array out = Array::empty(x.shape(), x.dtype());
  floating(name, x, [&](auto t) {
    using T = decltype(t);
    const T* p = x.data<T>();
    T* q = out.mutable_data<T>();
    for (std::int64_t i = 0; i < x.numel(); ++i) q[i] = f(p[i]);
  });
  return out;
}
}  // namespace

Array matmul(const Array& a, const Array& b) {
  check_same_dtype("matmul", a, b);
  if (a.ndim() < 1 || b.ndim() != 2 || a.dim(-1) != b.dim(0))
    throw Error("matmul: cannot multiply " + a.shape_dtype().str() + " by " + b.shape_dtype().str() +
                "; expected (..., k) x (k, n)");
  Shape shape = a.shape();
  shape.back() = b.dim(1);
  if (a.is_abstract() || b.is_abstract()) return Array::abstract(shape, a.dtype());
  Array out = Array::empty(shape, a.dtype());
  floating("matmul", a, [&](auto t) {
    using T = decltype(t);
    eigen::MatrixMap<T> z(out.mutable_data<T>(), eigen::rows_of(out), b.dim(1));
    z.noalias() = eigen::matrix<T>(a) * eigen::matrix<T>(b);
  });
  return out;
}

Array add(const Array& a, const Array& b) {
  return broadcast_binary("add", a, b, [](const auto& x, const auto& y) { return x + y; });
}
Array sub(const Array& a, const Array& b) {
  return broadcast_binary("sub", a, b, [](const auto& x, const auto& y) { return x - y; });
}
Array mul(const Array& a, const Array& b) {
  return broadcast_binary("mul", a, b, [](const auto& x, const auto& y) { return x * y; });
}
Array scale(const Array& a, double factor) {
  return unary("scale", a, [factor](auto v) { return static_cast<decltype(v)>(v * factor); });
}

std::string_view activation_name(Activation activation) {
  switch (activation) {
    case Activation::identity: return "identity";
    case Activation::relu: return "relu";
    case Activation::leaky_relu: return "leaky_relu";
    case Activation::gelu: return "gelu";
    case Activation::silu: return "silu";
    case Activation::tanh: return "tanh";
    case Activation::sigmoid: return "sigmoid";
  }
  return "invalid";
}

Activation activation_from_name(std::string_view name) {
  for (Activation a : {Activation::identity, Activation::relu, Activation::leaky_relu, Activation::gelu,
                       Activation::silu, Activation::tanh, Activation::sigmoid})
    if (activation_name(a) == name) return a;
  throw Error("unknown activation '" + std::string(name) +
              "': expected one of identity, relu, leaky_relu, gelu, silu, tanh, sigmoid");
}

Array leaky_relu(const Array& x, double negative_slope) {
  return unary("leaky_relu", x, [negative_slope](auto v) {
    return v >= 0 ? v : static_cast<decltype(v)>(v * negative_slope);
  });
}

Array activate(Activation activation, const Array& x) {
  switch (activation) {
    case Activation::identity: return x;
    case Activation::relu: return unary("relu", x, [](auto v) { return v > 0 ? v : decltype(v)(0); });
    case Activation::leaky_relu: return leaky_relu(x);
    case Activation::gelu:  // the tanh approximation, jax.nn.gelu's default
      return unary("gelu", x, [](auto v) {
        using T = decltype(v);
        const T c = static_cast<T>(0.7978845608028654);  // sqrt(2 / pi)
        return static_cast<T>(0.5) * v * (T(1) + std::tanh(c * (v + static_cast<T>(0.044715) * v * v * v)));
      });
    case Activation::silu: return unary("silu", x, [](auto v) { return v / (decltype(v)(1) + std::exp(-v)); });
    case Activation::tanh: return unary("tanh", x, [](auto v) { return std::tanh(v); });
    case Activation::sigmoid: return unary("sigmoid", x, [](auto v) { return decltype(v)(1) / (decltype(v)(1) + std::exp(-v)); });
  }
  throw Error("activate: invalid activation");
}

Array dropout(const Array& x, double rate, Key key) {
  if (!(rate >= 0 && rate < 1)) throw Error("dropout: rate must be in [0, 1), got " + std::to_string(rate));
  if (rate == 0 || x.is_abstract()) return x;
  if (x.numel() > static_cast<std::int64_t>(UINT32_MAX))
    throw Error("dropout: " + x.shape_dtype().str() + " has more elements than one key can address");
  Array out = Array::empty(x.shape(), x.dtype());
  floating("dropout", x, [&](auto t) {
    using T = decltype(t);
    const T keep_scale = static_cast<T>(1.0 / (1.0 - rate));
    const T* p = x.data<T>();
    T* q = out.mutable_data<T>();
    for (std::int64_t i = 0; i < x.numel(); ++i)
      q[i] = init::uniform01(key, static_cast<std::uint32_t>(i)) >= rate ? p[i] * keep_scale : T(0);
  });
  return out;
}

void moments(const Array& x, Array& mean, Array& variance) {
  if (x.ndim() < 1) throw Error("moments: expected at least one axis, got " + x.shape_dtype().str());
  const Shape features{x.dim(-1)};
  if (x.is_abstract()) {
    mean = variance = Array::abstract(features, x.dtype());
    return;
  }
  mean = Array::empty(features, x.dtype());
  variance = Array::empty(features, x.dtype());
  floating("moments", x, [&](auto t) {
    using T = decltype(t);
    auto m = eigen::matrix<T>(x);
    const T n = static_cast<T>(m.rows());
    auto mu = eigen::mutable_vector<T>(mean);
    mu = m.colwise().sum().transpose() / n;
    eigen::mutable_vector<T>(variance) = (m.rowwise() - mu.transpose()).array().square().colwise().sum().transpose() / n;
  });
}

Array normalize(const Array& x, const Array& mean, const Array& variance, const Array& scale_, const Array& bias,
                double epsilon) {
  const Shape features{x.dim(-1)};
  for (const Array* p : {&mean, &variance})
    if (p->shape() != features)
      throw Error("normalize: statistics must have shape " + shape_string(features) + ", got " + p->shape_dtype().str());
  if (x.is_abstract()) return Array::abstract(x.shape(), x.dtype());
  Array out = Array::empty(x.shape(), x.dtype());
  floating("normalize", x, [&](auto t) {
    using T = decltype(t);
    const auto f = static_cast<Eigen::Index>(features[0]);
    Eigen::Array<T, 1, Eigen::Dynamic> mult = (eigen::vector<T>(variance).array() + static_cast<T>(epsilon)).rsqrt().transpose();
    Eigen::Array<T, 1, Eigen::Dynamic> shift = Eigen::Array<T, 1, Eigen::Dynamic>::Zero(f);
    if (scale_.numel() == f && !scale_.is_abstract()) mult *= eigen::vector<T>(scale_).array().transpose();
    if (bias.numel() == f && !bias.is_abstract()) shift = eigen::vector<T>(bias).array().transpose();
    shift -= eigen::vector<T>(mean).array().transpose() * mult;
    auto in = eigen::matrix<T>(x);
    auto o = eigen::mutable_matrix<T>(out);
    for (Eigen::Index r = 0; r < in.rows(); ++r) o.row(r) = (in.row(r).array() * mult + shift).matrix();
  });
  return out;
}

}  // namespace nnx
