// nnx/nn/standardize.hpp — input standardisation whose statistics are model state.
//
//   nnx::Standardize scaler(4);              // 4 features; refuses to run until fitted
//   scaler.fit(train.features);              // per-feature mean and standard deviation of the rows
//   nnx::Array z = scaler(x);                // (x - mean) / stddev, feature by feature (last axis)
//   nnx::Sequential net(scaler, nnx::Linear(4, 2, rngs));   // paths layers/0/mean, ...
//
// mean, stddev and count are Variables of kind FeatureStat: they are in the State, so checkpoints
// save and restore them with the model, and they are neither trained (value_and_grad and the
// optimizers select Param by default) nor updated by the forward pass (unlike BatchStat). A model
// restored from a checkpoint is fitted because count is restored with it.
//
// fit computes in float64, summing rows in order (bitwise reproducible), the population standard
// deviation sqrt(sum (x - mean)^2 / n), and stores the statistics in the layer's dtype. A feature
// that is constant in the data (stddev 0, or below 1e-12 times its largest magnitude: the
// rounding noise of a constant float64 column, or too small to be a normal number of the layer's
// dtype) is divided by 1: it becomes x - mean, 0 on the training data, instead of inf or NaN.
#pragma once

#include <string>

#include "nnx/nn/layer.hpp"
#include "nnx/variable.hpp"

namespace nnx {

// Statistics of the input data, computed by a fit and kept as state: saved, never trained.
NNX_VARIABLE_KIND(FeatureStat, Variable, "FeatureStat");

class Standardize : public Layer {
 public:
  Standardize() = default;  // for merge
  explicit Standardize(std::int64_t num_features, DType dtype = DType::float32);

  // Sets mean, stddev and count from `features` (rows, num_features): float32 or float64, at least
  // one row, every value finite (else an nnx::Error naming the row and column). Refitting replaces.
  void fit(const Array& features);
  bool is_fitted() const;  // count > 0

  // (x - mean) / stddev over the last axis; x is (..., num_features) of the layer's dtype.
  // Before fit: an nnx::Error saying to call fit (or to restore fitted statistics).
  Array operator()(const Array& x) override;

  FeatureStat mean;    // (num_features), zeros until fit
  FeatureStat stddev;  // (num_features), ones until fit; 1 for a constant feature
  FeatureStat count;   // int64 scalar: the rows fit saw; 0 = not fitted
  std::int64_t num_features = 0;

  std::string type_name() const override { return "Standardize"; }
  NNX_FIELDS(mean, stddev, count, num_features)
};

}  // namespace nnx
