#include "nnx/nn/standardize.hpp"

#include <cmath>
#include <limits>
#include <vector>

#include "nnx/error.hpp"
#include "nnx/ops.hpp"

namespace nnx {

namespace {
std::string where(std::int64_t features) { return "Standardize(" + std::to_string(features) + ")"; }
}  // namespace

Standardize::Standardize(std::int64_t features, DType dtype)
    : mean(Array::zeros({features}, dtype)),
      stddev(Array::ones({features}, dtype)),
      count(Array::scalar<std::int64_t>(0)),
      num_features(features) {
  if (features <= 0) throw Error("Standardize: num_features must be > 0, got " + std::to_string(features));
  if (!dtype_is_floating(dtype)) throw Error("Standardize: dtype must be float32 or float64, got " + std::string(dtype_name(dtype)));
}

bool Standardize::is_fitted() const { return !count.value.is_abstract() && count.value.item<std::int64_t>() > 0; }

void Standardize::fit(const Array& features) {
  if (features.ndim() != 2 || features.dim(1) != num_features || features.dim(0) < 1 || !dtype_is_floating(features.dtype()))
    throw Error(where(num_features) + ".fit: expected features (rows >= 1, " + std::to_string(num_features) +
                ") of float32 or float64, got " + features.shape_dtype().str());
  const DType dtype = mean.value.dtype();
  const std::int64_t n = features.dim(0), f = num_features;
  if (features.is_abstract() || AbstractScope::active()) {  // inside eval_shape: the shapes are all there is
    mean.value = Array::abstract({f}, dtype);
    stddev.value = Array::abstract({f}, dtype);
    count.value = Array::abstract({}, DType::int64);
    return;
  }
  const Array x = features.astype(DType::float64);
  const double* v = x.data<double>();
  std::vector<double> sum(static_cast<std::size_t>(f), 0.0), largest(static_cast<std::size_t>(f), 0.0);
  for (std::int64_t r = 0; r < n; ++r)
    for (std::int64_t c = 0; c < f; ++c) {
      const double value = v[r * f + c];
      if (!std::isfinite(value))
        throw Error(where(f) + ".fit: features[" + std::to_string(r) + ", " + std::to_string(c) + "] is " +
                    std::to_string(value) + "; the statistics need finite values (clean or drop that row first)");
      sum[static_cast<std::size_t>(c)] += value;
      largest[static_cast<std::size_t>(c)] = std::fmax(largest[static_cast<std::size_t>(c)], std::fabs(value));
    }
  std::vector<double> mu(sum.size()), squares(sum.size(), 0.0), sd(sum.size());
  for (std::size_t c = 0; c < mu.size(); ++c) mu[c] = sum[c] / static_cast<double>(n);
  for (std::int64_t r = 0; r < n; ++r)
    for (std::int64_t c = 0; c < f; ++c) {
      const double d = v[r * f + c] - mu[static_cast<std::size_t>(c)];
      squares[static_cast<std::size_t>(c)] += d * d;
    }
  // The smallest stddev the layer's dtype holds as a normal number: below it, dividing overflows.
  const double smallest = dtype == DType::float32 ? std::numeric_limits<float>::min() : std::numeric_limits<double>::min();
  for (std::size_t c = 0; c < sd.size(); ++c) {
    const double s = std::sqrt(squares[c] / static_cast<double>(n));  // IEEE sqrt: correctly rounded
    sd[c] = (s < smallest || s <= 1e-12 * largest[c]) ? 1.0 : s;      // a constant feature: divide by 1
  }
  mean.value = Array::from_values<double>({f}, mu).astype(dtype);
  stddev.value = Array::from_values<double>({f}, sd).astype(dtype);
  count.value = Array::scalar<std::int64_t>(n);
}

Array Standardize::operator()(const Array& x) {
  if (x.ndim() < 1 || x.dim(-1) != num_features || x.dtype() != mean.value.dtype())
    throw Error(where(num_features) + ": expected input (..., " + std::to_string(num_features) + ") of " +
                std::string(dtype_name(mean.value.dtype())) + ", got " + x.shape_dtype().str());
  if (!count.value.is_abstract() && !is_fitted())
    throw Error(where(num_features) + ": used before fit; call fit(training_features) once before training "
                "or predicting, or restore a checkpoint that holds its statistics (mean, stddev, count)");
  return div(sub(x, mean.value), stddev.value);
}

}  // namespace nnx
