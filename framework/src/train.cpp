#include "nnx/train.hpp"

#include "nnx/error.hpp"

namespace nnx::detail {

Evaluation evaluate_batches(Module& model, const std::function<Array(const Array&)>& forward, const Dataset& data,
                            const std::function<Array(const Array&, const Array&)>& loss, std::int64_t batch_size) {
  if (batch_size <= 0) throw Error("evaluate: batch_size must be > 0");
  InferenceScope scope(model, "evaluate");  // evaluation mode, no tape; each module's mode restored after
  MeanMetric mean_loss, mean_accuracy;
  const bool classes = data.labels.dtype() == DType::int32 || data.labels.dtype() == DType::int64;
  for (std::int64_t begin = 0; begin < data.size(); begin += batch_size) {
    const std::int64_t end = std::min(begin + batch_size, data.size());
    const Dataset part = data.rows(begin, end);
    const Array out = forward(part.features);
    const auto n = static_cast<double>(end - begin);
    mean_loss.update(loss(out, part.labels).astype(DType::float64).item<double>(), n);
    if (classes) mean_accuracy.update(accuracy(out, part.labels), n);
  }
  return Evaluation{mean_loss.value(), classes ? mean_accuracy.value() : 0.0, data.size()};
}

}  // namespace nnx::detail
