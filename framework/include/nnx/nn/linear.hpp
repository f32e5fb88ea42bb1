// nnx/nn/linear.hpp — a dense layer, as nnx.Linear.
//
//   nnx::Linear fc(4, 32, rngs);                                  // kernel (4, 32), bias (32)
//   nnx::Linear head(32, 2, rngs, {.use_bias = false, .kernel_init = nnx::init::zeros()});
//   nnx::Array y = fc(x);                                         // x (batch, 4) -> (batch, 32)
//
// Initialisation follows Flax: kernel = kernel_init(rngs.params(), (in, out)), then (when use_bias)
// bias = bias_init(rngs.params(), (out,)); defaults lecun_normal and zeros. Two draws from the
// "params" stream (or "default") per layer, in that order.
#pragma once

#include <optional>

#include "nnx/init.hpp"
#include "nnx/nn/layer.hpp"
#include "nnx/ops.hpp"
#include "nnx/rngs.hpp"

namespace nnx {

struct LinearOptions {
  bool use_bias = true;
  DType dtype = DType::float32;
  Initializer kernel_init = init::lecun_normal();
  Initializer bias_init = init::zeros();
};

class Linear : public Layer {
 public:
  Linear() = default;  // for merge
  Linear(std::int64_t in_features, std::int64_t out_features, Rngs& rngs, const LinearOptions& options = {});
  Linear(std::int64_t in_features, std::int64_t out_features, Rngs&& rngs, const LinearOptions& options = {})
      : Linear(in_features, out_features, rngs, options) {}  // Linear(4, 2, nnx::Rngs(0))

  Array operator()(const Array& x) override;
  // activation(fc(x)) as one op (nnx::linear): the same bits, less overhead with identity or relu.
  Array operator()(const Array& x, Activation activation);

  Param kernel;               // (in_features, out_features)
  std::optional<Param> bias;  // (out_features), absent when use_bias is false
  std::int64_t in_features = 0;
  std::int64_t out_features = 0;
  bool use_bias = true;

  std::string type_name() const override { return "Linear"; }
  NNX_FIELDS(kernel, bias, in_features, out_features, use_bias)
};

}  // namespace nnx
