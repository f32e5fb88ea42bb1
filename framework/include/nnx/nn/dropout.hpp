// nnx/nn/dropout.hpp — dropout with its own random stream, as nnx.Dropout.
//
//   nnx::Dropout drop(0.1, rngs);     // draws one key from rngs' "dropout" stream (or "default")
//   y = drop(x);                      // training: masks and rescales; model.eval(): identity
//
// The layer keeps an RngStream of its own (rngs/key, rngs/count: RngKey / RngCount tagged
// "dropout"), so its randomness is model state: it is split, saved and restored with the model,
// and a resumed run draws exactly the masks the uninterrupted run would have drawn.
#pragma once

#include <string>

#include "nnx/nn/layer.hpp"
#include "nnx/rngs.hpp"

namespace nnx {

class Dropout : public Layer {
 public:
  Dropout() = default;  // for merge
  Dropout(double rate, Rngs& rngs, const std::string& stream = "dropout");
  Dropout(double rate, Rngs&& rngs, const std::string& stream = "dropout") : Dropout(rate, rngs, stream) {}

  // Identity when !is_training() or rate == 0; otherwise one draw from this layer's stream.
  Array operator()(const Array& x) override;

  double rate = 0;
  RngStream rngs;

  std::string type_name() const override { return "Dropout"; }
  NNX_FIELDS(rate, rngs)
};

}  // namespace nnx
