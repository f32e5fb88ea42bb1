// nnx/inference.hpp — predicting: the model in evaluation mode, nothing recorded, nothing changed.
//
//   nnx::Array logits = nnx::predict(model, x);   // model(x) as model.eval() would run it
//
// Calling model(x) runs the model in whatever mode it is in, and after training that is training
// mode: Dropout drops, and BatchNorm normalises with the batch's own statistics and *updates its
// running averages*, so a "prediction" is wrong and changes the model. predict() runs the call with
// every module in evaluation mode and puts each module's own mode back afterwards (also when the
// call throws). It records nothing on a gradient tape (inside a loss function its result is a
// constant, as with stop_gradient), and, like value_and_grad, refuses a Variable of the model that
// is missing from NNX_FIELDS (module.hpp, FieldCheck).
#pragma once

#include <utility>
#include <memory>
#include <vector>

#include "nnx/module.hpp"

namespace nnx {

namespace detail {
struct CachedWalk;
// Evaluation mode for every module under `root`, this thread's tape paused and a FieldCheck, for
// its lifetime; the destructor restores each module's mode and the tape.
class InferenceScope {
 public:
  InferenceScope(Module& root, const char* caller);  // caller: "predict", "evaluate" (for errors)
  ~InferenceScope();
  InferenceScope(const InferenceScope&) = delete;
  InferenceScope& operator=(const InferenceScope&) = delete;

 private:
  std::shared_ptr<const CachedWalk> walk_;  // kept alive: the FieldCheck reads it
  FieldCheck fields_;
  std::vector<std::pair<Module*, bool>> modes_;
  void* paused_tape_;
};
}  // namespace detail

// model(args...) in evaluation mode, without a tape; every module's mode is restored after.
template <class M, class... A> auto predict(M& model, A&&... args) {
  static_assert(std::derived_from<M, Module>, "nnx::predict runs a Module");
  detail::InferenceScope scope(model, "predict");
  return model(std::forward<A>(args)...);
}

}  // namespace nnx
