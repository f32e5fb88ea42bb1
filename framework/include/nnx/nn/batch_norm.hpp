// nnx/nn/batch_norm.hpp — batch normalisation over the last axis, as nnx.BatchNorm.
//
//   nnx::BatchNorm bn(32, rngs);      // scale/bias: Param (32); mean/var: BatchStat (32)
//   y = bn(x);                        // training: batch statistics, running averages updated
//   model.eval(); y = bn(x);          // evaluation: running averages
//
// Running averages follow Flax: mean <- momentum * mean + (1 - momentum) * batch_mean, the same
// for var with the biased batch variance. Statistics are reduced over every axis but the last.
#pragma once

#include <optional>

#include "nnx/nn/layer.hpp"
#include "nnx/rngs.hpp"

namespace nnx {

struct BatchNormOptions {
  double momentum = 0.99;
  double epsilon = 1e-5;
  bool use_scale = true;
  bool use_bias = true;
  DType dtype = DType::float32;
};

class BatchNorm : public Layer {
 public:
  BatchNorm() = default;  // for merge
  BatchNorm(std::int64_t num_features, Rngs& rngs, const BatchNormOptions& options = {});
  BatchNorm(std::int64_t num_features, Rngs&& rngs, const BatchNormOptions& options = {})
      : BatchNorm(num_features, rngs, options) {}

  Array operator()(const Array& x) override;

  std::optional<Param> scale;  // (num_features), ones
  std::optional<Param> bias;   // (num_features), zeros
  BatchStat mean;              // (num_features), zeros
  BatchStat var;               // (num_features), ones
  std::int64_t num_features = 0;
  double momentum = 0.99;
  double epsilon = 1e-5;

  std::string type_name() const override { return "BatchNorm"; }
  NNX_FIELDS(scale, bias, mean, var, num_features, momentum, epsilon)
};

}  // namespace nnx
