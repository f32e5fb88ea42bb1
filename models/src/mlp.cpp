#include "nnx/models/mlp.hpp"

#include "nnx/error.hpp"

namespace nnx::models {

MLP::MLP(const MLPConfig& config, Rngs& rngs) : activation(config.activation) {
  if (config.in <= 0 || config.out <= 0)
    throw Error("MLP: in and out must be > 0, got in = " + std::to_string(config.in) +
                ", out = " + std::to_string(config.out));
  LinearOptions linear;
  linear.use_bias = config.use_bias;
  linear.dtype = config.dtype;
  BatchNormOptions bn;
  bn.dtype = config.dtype;
  std::int64_t width = config.in;
  layers.reserve(config.hidden.size() + 1);
  for (std::int64_t h : config.hidden) {
    layers.emplace_back(width, h, rngs, linear);
    if (config.batch_norm) norms.emplace_back(h, rngs, bn);
    width = h;
  }
  layers.emplace_back(width, config.out, rngs, linear);
  if (config.dropout > 0) dropout.emplace(config.dropout, rngs);
}

Array MLP::operator()(const Array& x) {
  Array h = x;
  for (std::size_t i = 0; i + 1 < layers.size(); ++i) {
    if (norms.empty()) {
      h = layers[i](h, activation);  // one fused op
    } else {
      h = norms[i](layers[i](h));
      h = activate(activation, h);
    }
    if (dropout) h = (*dropout)(h);
  }
  return layers.back()(h);
}

std::int64_t MLP::num_parameters() const {
  std::int64_t n = 0;
  for (const auto& l : layers) n += l.kernel.value.numel() + (l.bias ? l.bias->value.numel() : 0);
  for (const auto& b : norms) n += (b.scale ? b.scale->value.numel() : 0) + (b.bias ? b.bias->value.numel() : 0);
  return n;
}

}  // namespace nnx::models
