// Dropout and batch normalisation, with gradients.
#include <cmath>

#include "kernels.hpp"
#include "nnx/init.hpp"
#include "nnx/ops.hpp"

namespace nnx {

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
  if (detail::Tape* tape = detail::recording_for({&x})) {
    const std::int32_t node = x.grad_node();
    tape->record(out, [=](const Array& g) { tape->accumulate(node, apply_mask(g, rate, key)); });
  }
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
  std::vector<double> inv_std(static_cast<std::size_t>(f.cols));
  detail::floating(op, x, [&](auto t) {
    using T = decltype(t);
    const T* p = x.data<T>();
    const T* m = mean_v.data<T>();
    const T* v = var_v.data<T>();
    const T* s = has_scale ? scale_v.data<T>() : nullptr;
    const T* b = has_bias ? bias_v.data<T>() : nullptr;
    for (std::int64_t c = 0; c < f.cols; ++c) inv_std[static_cast<std::size_t>(c)] = 1.0 / std::sqrt(v[c] + epsilon);
    T* y = out.mutable_data<T>();
    T* h = xhat.mutable_data<T>();
    for (std::int64_t r = 0; r < f.rows; ++r)
      for (std::int64_t c = 0; c < f.cols; ++c) {
        const double n = (p[r * f.cols + c] - m[c]) * inv_std[static_cast<std::size_t>(c)];
        h[r * f.cols + c] = static_cast<T>(n);
        y[r * f.cols + c] = static_cast<T>(n * (s ? s[c] : 1.0) + (b ? b[c] : 0.0));
      }
  });
  detail::Tape* tape = detail::recording_for({&x, &scale_v, &bias_v});
  if (!tape) return out;
  const std::int32_t nx = x.grad_node(), ns = has_scale ? scale_v.grad_node() : -1, nb = has_bias ? bias_v.grad_node() : -1;
  tape->record(out, [=](const Array& g) {
    detail::floating("batch norm backward", g, [&](auto t) {
      using T = decltype(t);
      const T* gp = g.data<T>();
      const T* h = xhat.data<T>();
      const T* s = has_scale ? scale_v.data<T>() : nullptr;
      std::vector<double> sum_g(static_cast<std::size_t>(f.cols), 0.0), sum_gh(static_cast<std::size_t>(f.cols), 0.0);
      for (std::int64_t r = 0; r < f.rows; ++r)
        for (std::int64_t c = 0; c < f.cols; ++c) {
          sum_g[static_cast<std::size_t>(c)] += gp[r * f.cols + c];
          sum_gh[static_cast<std::size_t>(c)] += static_cast<double>(gp[r * f.cols + c]) * h[r * f.cols + c];
        }
      if (nb >= 0) {
        Array gb = Array::empty({f.cols}, g.dtype());
        for (std::int64_t c = 0; c < f.cols; ++c) gb.mutable_data<T>()[c] = static_cast<T>(sum_g[static_cast<std::size_t>(c)]);
        tape->accumulate(nb, std::move(gb));
      }
      if (ns >= 0) {
        Array gs = Array::empty({f.cols}, g.dtype());
        for (std::int64_t c = 0; c < f.cols; ++c) gs.mutable_data<T>()[c] = static_cast<T>(sum_gh[static_cast<std::size_t>(c)]);
        tape->accumulate(ns, std::move(gs));
      }
      if (nx >= 0) {
        Array gx = Array::empty(g.shape(), g.dtype());
        T* d = gx.mutable_data<T>();
        const double n = static_cast<double>(f.rows);
        for (std::int64_t r = 0; r < f.rows; ++r)
          for (std::int64_t c = 0; c < f.cols; ++c) {
            const auto ci = static_cast<std::size_t>(c);
            const double sc = s ? s[c] : 1.0;
            const double gi = gp[r * f.cols + c] * sc;
            d[r * f.cols + c] = static_cast<T>(
                batch ? inv_std[ci] * (gi - sc * (sum_g[ci] + h[r * f.cols + c] * sum_gh[ci]) / n) : inv_std[ci] * gi);
          }
        tape->accumulate(nx, std::move(gx));
      }
    });
  });
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
