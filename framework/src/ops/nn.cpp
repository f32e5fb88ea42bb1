// Dropout and batch normalisation, with gradients.
#include <cmath>

#include "kernels.hpp"
#include "nnx/init.hpp"
#include "nnx/ops.hpp"

namespace nnx {

using detail::Grads;
using detail::Node;

namespace {
// Applies the dropout mask of `key` to `x`: kept elements scaled by 1/(1-rate), the rest zero.
Array apply_mask(const Array& x, double rate, Key key) {
  Array out = Array::empty(x.shape(), x.dtype());
  detail::floating("dropout", x, [&](auto t) {
    using T = decltype(t);
    const T keep_scale = static_cast<T>(1.0 / (1.0 - rate));
    const T* p = x.data<T>();
    T* q = out.mutable_data<T>();
    for (std::int64_t i = 0; i < x.numel(); ++i)
      q[i] = init::uniform01(key, static_cast<std::uint32_t>(i)) >= rate ? p[i] * keep_scale : T(0);
  });
  return out;
}

struct Features {
  std::int64_t rows, cols;
};
Features features_of(const Array& x, const char* op) {
  if (x.ndim() < 1) throw Error(std::string(op) + ": expected at least one axis, got " + x.shape_dtype().str());
  const std::int64_t f = x.dim(-1);
  return {f ? x.numel() / f : 0, f};
}

void check_feature_vector(const char* op, const char* name, const Array& v, std::int64_t f, DType dtype) {
  if (v.shape() != Shape{f} || v.dtype() != dtype)
    throw Error(std::string(op) + ": " + name + " must be " + ShapeDtype{Shape{f}, dtype}.str() + ", got " +
                v.shape_dtype().str());
}
}  // namespace

Array dropout(const Array& x, double rate, Key key) {
  if (!(rate >= 0 && rate < 1)) throw Error("dropout: rate must be in [0, 1), got " + std::to_string(rate));
  if (rate == 0 || x.is_abstract()) return x;
  if (x.numel() > static_cast<std::int64_t>(UINT32_MAX))
    throw Error("dropout: " + x.shape_dtype().str() + " has more elements than one key can address");
  Array out = apply_mask(x, rate, key);
  detail::record(out, "dropout", {x}, {.num = {rate, double(key.hi), double(key.lo)}},
                 [](const Array& g, const Node& n, Grads& d) {
                   d[0] = apply_mask(g, n.num[0], Key{std::uint32_t(n.num[1]), std::uint32_t(n.num[2])});
                 });
  return out;
}

void moments(const Array& x, Array& mean_out, Array& variance_out) {
  const Features f = features_of(x, "moments");
  if (x.is_abstract()) {
    mean_out = variance_out = Array::abstract({f.cols}, x.dtype());
    return;
  }
  if (f.rows == 0) throw Error("moments: no rows to average in " + x.shape_dtype().str());
  mean_out = Array::empty({f.cols}, x.dtype());
  variance_out = Array::empty({f.cols}, x.dtype());
  detail::floating("moments", x, [&](auto t) {
    using T = decltype(t);
    const T* p = x.data<T>();
    std::vector<double> mu(static_cast<std::size_t>(f.cols), 0.0), var(static_cast<std::size_t>(f.cols), 0.0);
    for (std::int64_t r = 0; r < f.rows; ++r)
      for (std::int64_t c = 0; c < f.cols; ++c) mu[static_cast<std::size_t>(c)] += p[r * f.cols + c];
    for (auto& m : mu) m /= static_cast<double>(f.rows);
    for (std::int64_t r = 0; r < f.rows; ++r)
      for (std::int64_t c = 0; c < f.cols; ++c) {
        const double d = p[r * f.cols + c] - mu[static_cast<std::size_t>(c)];
        var[static_cast<std::size_t>(c)] += d * d;
      }
    T* m = mean_out.mutable_data<T>();
    T* v = variance_out.mutable_data<T>();
    for (std::int64_t c = 0; c < f.cols; ++c) {
      m[c] = static_cast<T>(mu[static_cast<std::size_t>(c)]);
      v[c] = static_cast<T>(var[static_cast<std::size_t>(c)] / static_cast<double>(f.rows));
    }
  });
}

namespace {
// The rule of normalize_with: inputs (x, scale, bias), saved (xhat, scale or nothing, inv_std as
// float64), num[0] = batch.
void normalize_rule(const Array& g, const Node& n, Grads& d) {
  const Array &xhat = n.saved[0], &scale_v = n.saved[1];
  const double* inv_std = n.saved[2].data<double>();
  const bool batch = n.num[0] != 0;
  const Features f = features_of(g, "batch norm backward");
  detail::floating("batch norm backward", g, [&](auto t) {
    using T = decltype(t);
    const T* gp = g.data<T>();
    const T* h = xhat.data<T>();
    const T* s = scale_v.is_abstract() ? nullptr : scale_v.data<T>();
    std::vector<double> sum_g(static_cast<std::size_t>(f.cols), 0.0), sum_gh(static_cast<std::size_t>(f.cols), 0.0);
    for (std::int64_t r = 0; r < f.rows; ++r)
      for (std::int64_t c = 0; c < f.cols; ++c) {
        sum_g[static_cast<std::size_t>(c)] += gp[r * f.cols + c];
        sum_gh[static_cast<std::size_t>(c)] += static_cast<double>(gp[r * f.cols + c]) * h[r * f.cols + c];
      }
    if (d.wanted(0)) {
      Array gx = Array::empty(g.shape(), g.dtype());
      T* dx = gx.mutable_data<T>();
      const double rows = static_cast<double>(f.rows);
      for (std::int64_t r = 0; r < f.rows; ++r)
        for (std::int64_t c = 0; c < f.cols; ++c) {
          const auto ci = static_cast<std::size_t>(c);
          const double sc = s ? s[c] : 1.0;
          const double gi = gp[r * f.cols + c] * sc;
          dx[r * f.cols + c] = static_cast<T>(
              batch ? inv_std[c] * (gi - sc * (sum_g[ci] + h[r * f.cols + c] * sum_gh[ci]) / rows) : inv_std[c] * gi);
        }
      d[0] = std::move(gx);
    }
    auto per_feature = [&](const std::vector<double>& sums) {
      Array out = Array::empty({f.cols}, g.dtype());
      for (std::int64_t c = 0; c < f.cols; ++c) out.mutable_data<T>()[c] = static_cast<T>(sums[static_cast<std::size_t>(c)]);
      return out;
    };
    if (d.wanted(1)) d[1] = per_feature(sum_gh);
    if (d.wanted(2)) d[2] = per_feature(sum_g);
  });
}

// y = (x - mean) * inv_std * scale + bias and, when recording, its gradients. `batch` says
// whether mean / inv_std are the batch's own statistics (then x's gradient flows through them).
Array normalize_with(const char* op, const Array& x, const Array& mean_v, const Array& var_v, const Array& scale_v,
                     const Array& bias_v, double epsilon, bool batch) {
  const Features f = features_of(x, op);
  const bool has_scale = scale_v.numel() > 0 && !scale_v.is_abstract();
  const bool has_bias = bias_v.numel() > 0 && !bias_v.is_abstract();
  check_feature_vector(op, "mean", mean_v, f.cols, x.dtype());
  check_feature_vector(op, "variance", var_v, f.cols, x.dtype());
  if (has_scale) check_feature_vector(op, "scale", scale_v, f.cols, x.dtype());
  if (has_bias) check_feature_vector(op, "bias", bias_v, f.cols, x.dtype());
  if (x.is_abstract()) return Array::abstract(x.shape(), x.dtype());
  Array out = Array::empty(x.shape(), x.dtype());
  Array xhat = Array::empty(x.shape(), x.dtype());
  Array inv_std_array = Array::empty({f.cols}, DType::float64);
  double* inv_std = inv_std_array.mutable_data<double>();
  detail::floating(op, x, [&](auto t) {
    using T = decltype(t);
    const T* p = x.data<T>();
    const T* m = mean_v.data<T>();
    const T* v = var_v.data<T>();
    const T* s = has_scale ? scale_v.data<T>() : nullptr;
    const T* b = has_bias ? bias_v.data<T>() : nullptr;
    for (std::int64_t c = 0; c < f.cols; ++c) inv_std[c] = 1.0 / std::sqrt(v[c] + epsilon);
    T* y = out.mutable_data<T>();
    T* h = xhat.mutable_data<T>();
    for (std::int64_t r = 0; r < f.rows; ++r)
      for (std::int64_t c = 0; c < f.cols; ++c) {
        const double n = (p[r * f.cols + c] - m[c]) * inv_std[c];
        h[r * f.cols + c] = static_cast<T>(n);
        y[r * f.cols + c] = static_cast<T>(n * (s ? s[c] : 1.0) + (b ? b[c] : 0.0));
      }
  });
  const Array none;  // stands in for an absent scale or bias: no gradient for it
  detail::record(out, op, {x, has_scale ? scale_v : none, has_bias ? bias_v : none},
                 {.arrays = {xhat, has_scale ? scale_v : none, inv_std_array}, .num = {batch ? 1.0 : 0.0}},
                 normalize_rule);
  return out;
}
}  // namespace

Array normalize(const Array& x, const Array& mean_v, const Array& var_v, const Array& scale_v, const Array& bias_v,
                double epsilon) {
  return normalize_with("normalize", x, mean_v, var_v, scale_v, bias_v, epsilon, false);
}

Array batch_norm_train(const Array& x, const Array& scale_v, const Array& bias_v, double epsilon, Array& batch_mean,
                       Array& batch_variance) {
  moments(x, batch_mean, batch_variance);
  return normalize_with("batch_norm_train", x, batch_mean, batch_variance, scale_v, bias_v, epsilon, true);
}

}  // namespace nnx
