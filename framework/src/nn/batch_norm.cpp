#include "nnx/nn/batch_norm.hpp"

#include "nnx/error.hpp"
#include "nnx/ops.hpp"

namespace nnx {

BatchNorm::BatchNorm(std::int64_t features, Rngs&, const BatchNormOptions& options)
    : mean(Array::zeros({features}, options.dtype)),
      var(Array::ones({features}, options.dtype)),
      num_features(features),
      momentum(options.momentum),
      epsilon(options.epsilon) {
  if (features <= 0) throw Error("BatchNorm: num_features must be > 0, got " + std::to_string(features));
  if (!(momentum >= 0 && momentum <= 1)) throw Error("BatchNorm: momentum must be in [0, 1], got " + std::to_string(momentum));
  if (options.use_scale) scale = Param(Array::ones({features}, options.dtype));
  if (options.use_bias) bias = Param(Array::zeros({features}, options.dtype));
}

Array BatchNorm::operator()(const Array& x) {
  if (x.ndim() < 1 || x.dim(-1) != num_features)
    throw Error("BatchNorm(" + std::to_string(num_features) + "): expected input (..., " + std::to_string(num_features) +
                "), got " + x.shape_dtype().str());
  const Array none;
  const Array& s = scale ? scale->value : none;
  const Array& b = bias ? bias->value : none;
  if (!is_training()) return normalize(x, mean.value, var.value, s, b, epsilon);
  Array batch_mean, batch_var;
  Array y = batch_norm_train(x, s, b, epsilon, batch_mean, batch_var);
  if (!mean.value.is_abstract() && !AbstractScope::active()) {  // eval_shape changes nothing outside it
    // running = momentum * running + (1 - momentum) * batch, in the running statistics' dtype.
    auto update = [&](Array& running, const Array& batch) {
      running = add(nnx::scale(running, momentum), nnx::scale(batch.astype(running.dtype()), 1.0 - momentum));
    };
    update(mean.value, batch_mean);
    update(var.value, batch_var);
  }
  return y;
}

}  // namespace nnx
