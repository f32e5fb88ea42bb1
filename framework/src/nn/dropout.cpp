#include "nnx/nn/dropout.hpp"

#include "nnx/error.hpp"
#include "nnx/ops.hpp"

namespace nnx {

Dropout::Dropout(double rate_, Rngs& rngs_, const std::string& stream) : rate(rate_) {
  if (!(rate >= 0 && rate < 1)) throw Error("Dropout: rate must be in [0, 1), got " + std::to_string(rate));
  rngs = RngStream(stream, rngs_(stream));
}

Array Dropout::operator()(const Array& x) {
  if (!is_training() || rate == 0) return x;
  return dropout(x, rate, rngs.next());
}

}  // namespace nnx
