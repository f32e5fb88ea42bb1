// nnx/train.hpp — helpers that keep the training loop in user code, but short.
//
//   nnx::Optimizer opt(model, nnx::optim::adam(1e-3));
//   for (int step = 1; step <= steps; ++step) {
//     nnx::Batch b = loader.next();
//     nnx::Array loss = nnx::train_step(model, opt, [&](auto& m) { return nnx::softmax_cross_entropy(m(b.x), b.y); });
//   }
//   nnx::Evaluation e = nnx::evaluate(model, test, nnx::softmax_cross_entropy);
//   e.loss; e.accuracy;
//   nnx::Array logits = nnx::predict(model, x);   // eval mode for the call; see nnx/inference.hpp
#pragma once

#include <functional>

#include "nnx/autodiff.hpp"
#include "nnx/data.hpp"
#include "nnx/inference.hpp"
#include "nnx/losses.hpp"
#include "nnx/ops.hpp"
#include "nnx/optim.hpp"

namespace nnx {

// Forward, backward and update in one call; returns the loss. Differentiates the variables the
// optimizer updates (its wrt filter, Param by default). The same arithmetic as value_and_grad
// followed by optimizer.update, without building a State of gradients: in a steady state a step
// walks no graph and looks up no path (both are cached and checked, see graph_walk.hpp).
// loss_fn may return std::pair<Array, Aux> as for value_and_grad; the aux is dropped.
template <class M, class F> Array train_step(M& model, Optimizer& optimizer, F&& loss_fn) {
  static_assert(std::derived_from<M, Module>, "nnx::train_step trains a Module");
  using R = std::remove_cvref_t<std::invoke_result_t<F, M&>>;
  detail::GradScope scope(model, optimizer.wrt());
  if constexpr (detail::is_pair<R>::value) {
    R result = std::forward<F>(loss_fn)(model);
    scope.finish_into(result.first, optimizer, model);
    return std::move(result.first);
  } else {
    static_assert(std::is_same_v<R, Array>, "the loss function must return nnx::Array or std::pair<nnx::Array, Aux>");
    Array loss = std::forward<F>(loss_fn)(model);
    scope.finish_into(loss, optimizer, model);
    return loss;
  }
}

struct Evaluation {
  double loss = 0;      // mean over examples
  double accuracy = 0;  // for integer class labels (or one logit and 0/1 labels); else 0
  std::int64_t examples = 0;
};

namespace detail {
Evaluation evaluate_batches(Module& model, const std::function<Array(const Array&)>& forward, const Dataset& data,
                            const std::function<Array(const Array&, const Array&)>& loss, std::int64_t batch_size);
}

// Runs `model` over `data` in batches as predict() runs it: evaluation mode (each module's mode
// restored after), no tape.
template <class M>
Evaluation evaluate(M& model, const Dataset& data, const std::function<Array(const Array&, const Array&)>& loss,
                    std::int64_t batch_size = 1024) {
  return detail::evaluate_batches(model, [&model](const Array& x) { return model(x); }, data, loss, batch_size);
}

}  // namespace nnx
