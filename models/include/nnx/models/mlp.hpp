// nnx/models/mlp.hpp — a multi-layer perceptron built from Linear, BatchNorm and Dropout.
//
//   nnx::Rngs rngs({{"params", 0}, {"dropout", 1}});
//   nnx::models::MLP model({.in = 4, .hidden = {32, 32}, .out = 2, .dropout = 0.1}, rngs);
//   nnx::Array logits = model(x);                       // (batch, 4) -> (batch, 2)
//
// Per hidden layer i: layers/i (Linear) -> norms/i (BatchNorm, when batch_norm) -> activation ->
// dropout (one Dropout module shared by all hidden layers, when dropout > 0); then the output
// Linear layers/<depth>. State paths: layers/0/kernel, layers/0/bias, ..., norms/0/mean,
// dropout/rngs/key, ...
#pragma once

#include <optional>
#include <vector>

#include "nnx/nn/batch_norm.hpp"
#include "nnx/nn/dropout.hpp"
#include "nnx/nn/linear.hpp"
#include "nnx/ops.hpp"

namespace nnx::models {

struct MLPConfig {
  std::int64_t in = 1;
  std::vector<std::int64_t> hidden{};  // widths of the hidden layers; empty gives a linear model
  std::int64_t out = 1;
  double dropout = 0.0;
  bool batch_norm = false;
  Activation activation = Activation::relu;
  DType dtype = DType::float32;
  bool use_bias = true;
};

class MLP : public Layer {
 public:
  MLP() = default;  // for merge
  MLP(const MLPConfig& config, Rngs& rngs);
  MLP(const MLPConfig& config, Rngs&& rngs) : MLP(config, rngs) {}  // MLP(config, nnx::Rngs(0))

  Array operator()(const Array& x) override;

  std::int64_t depth() const { return static_cast<std::int64_t>(layers.size()) - 1; }  // hidden layers
  std::int64_t num_parameters() const;  // elements of all Params

  std::vector<Linear> layers;       // hidden layers, then the output layer
  std::vector<BatchNorm> norms;     // one per hidden layer when batch_norm
  std::optional<Dropout> dropout;   // when config.dropout > 0
  Activation activation = Activation::relu;

  std::string type_name() const override { return "MLP"; }
  NNX_FIELDS(layers, norms, dropout, activation)
};

}  // namespace nnx::models
