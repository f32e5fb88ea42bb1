// nnx/nn/layer.hpp — Layer: a Module with one Array in and one Array out.
//
// Sequential composes Layers; Linear, Dropout, BatchNorm and the activations are Layers. A custom
// Module does not need to be a Layer (its call signature is yours), only to sit in a Sequential.
#pragma once

#include "nnx/array.hpp"
#include "nnx/module.hpp"

namespace nnx {

class Layer : public Module {
 public:
  virtual Array operator()(const Array& x) = 0;
};

}  // namespace nnx
