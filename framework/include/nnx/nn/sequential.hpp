// nnx/nn/sequential.hpp — layers applied in order, as nnx.Sequential.
//
//   nnx::Sequential net(nnx::Linear(4, 32, rngs), nnx::ActivationLayer(), nnx::Linear(32, 2, rngs));
//   nnx::Array y = net(x);                 // state paths: layers/0/kernel, layers/2/bias, ...
//   net.layers.push_back(shared_layer);    // a std::shared_ptr<Layer> may be shared with other modules
#pragma once

#include <memory>
#include <type_traits>
#include <vector>

#include "nnx/nn/layer.hpp"

namespace nnx {

class Sequential : public Layer {
 public:
  Sequential() = default;
  explicit Sequential(std::vector<std::shared_ptr<Layer>> layers) : layers(std::move(layers)) {}
  template <class... L>
    requires(sizeof...(L) > 0 && (std::derived_from<std::remove_cvref_t<L>, Layer> && ...))
  explicit Sequential(L&&... l) : layers{std::make_shared<std::remove_cvref_t<L>>(std::forward<L>(l))...} {}

  Array operator()(const Array& x) override {
    Array y = x;
    for (auto& layer : layers) y = (*layer)(y);
    return y;
  }

  std::vector<std::shared_ptr<Layer>> layers;

  std::string type_name() const override { return "Sequential"; }
  NNX_FIELDS(layers)
};

}  // namespace nnx
