#include "nnx/nn/linear.hpp"

#include "nnx/error.hpp"
#include "nnx/ops.hpp"

namespace nnx {

Linear::Linear(std::int64_t in, std::int64_t out, Rngs& rngs, const LinearOptions& options)
    : in_features(in), out_features(out), use_bias(options.use_bias) {
  if (in <= 0 || out <= 0)
    throw Error("Linear: in_features and out_features must be > 0, got " + std::to_string(in) + " and " +
                std::to_string(out));
  kernel = Param(options.kernel_init(rngs.params(), {in, out}, options.dtype));
  if (use_bias) bias = Param(options.bias_init(rngs.params(), {out}, options.dtype));
}

Array Linear::operator()(const Array& x) { return (*this)(x, Activation::identity); }

Array Linear::operator()(const Array& x, Activation activation) {
  if (x.ndim() < 1 || x.dim(-1) != in_features)
    throw Error("Linear(" + std::to_string(in_features) + " -> " + std::to_string(out_features) +
                "): expected input (..., " + std::to_string(in_features) + "), got " + x.shape_dtype().str());
  return bias ? linear(x, kernel.value, bias->value, activation) : linear(x, kernel.value, activation);
}

}  // namespace nnx
