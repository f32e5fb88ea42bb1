// nnx/nn/activation.hpp — activations as layers, for Sequential.
//
//   nnx::Sequential net(nnx::Linear(4, 32, rngs), nnx::ActivationLayer(nnx::Activation::relu),
//                       nnx::Linear(32, 2, rngs));
// The functions themselves (nnx::relu, nnx::gelu, ...) are in nnx/ops.hpp.
#pragma once

#include <string>

#include "nnx/nn/layer.hpp"
#include "nnx/ops.hpp"

namespace nnx {

class ActivationLayer : public Layer {
 public:
  explicit ActivationLayer(Activation activation = Activation::relu) : activation_(activation) {}
  Array operator()(const Array& x) override { return activate(activation_, x); }
  Activation activation() const { return activation_; }

  std::string type_name() const override { return "Activation"; }
  void visit(Visitor& v) override { v("activation", activation_); }
  NNX_MODULE_FACTORY()

 private:
  Activation activation_;
};

}  // namespace nnx
