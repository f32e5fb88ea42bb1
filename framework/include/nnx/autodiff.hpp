// nnx/autodiff.hpp — reverse-mode gradients of a loss with respect to a module's Variables.
//
//   auto [loss, grads] = nnx::value_and_grad(model, [&](nnx::models::MLP& m) {
//     return nnx::softmax_cross_entropy(m(x), labels);
//   });
//   // grads: a State with exactly the paths of nnx::state(model, nnx::Param{}), e.g. layers/0/kernel
//
//   // With auxiliary output (returned, not differentiated):
//   auto [loss, logits, grads] = nnx::value_and_grad(model, [&](auto& m) {
//     nnx::Array out = m(x);
//     return std::pair{nnx::mse(out, y), out};
//   });
//
// How it works: the selected Variables (`wrt`, Param by default) become the leaves of a tape; every
// op in nnx/ops.hpp that touches a tracked Array appends one node (one per tensor operation, never
// per element); the backward pass walks the nodes in reverse, accumulating in a fixed order, so
// gradients are bitwise reproducible. Code outside nnx ops (raw pointer loops) is not seen by the
// tape: write differentiable code with nnx ops. Nested value_and_grad is not supported.
//
// Debugging a gradient: call nnx::debug::print_tape(std::cerr) inside the loss function to see
// what the tape recorded so far, one line per node:
//   tape: 4 nodes, recording
//     #0 leaf layers/0/kernel -> float32[4,32]
//     #1 leaf layers/0/bias -> float32[32]
//     #2 matmul(const, #0) -> float32[8,32]
//     #3 add(#2, #1) -> float32[8,32]
// ("const": an input that is not differentiated; "grad" marks nodes a gradient has reached).
#pragma once

#include <iosfwd>
#include <memory>
#include <vector>
#include <type_traits>
#include <utility>

#include "nnx/filter.hpp"
#include "nnx/module.hpp"
#include "nnx/state.hpp"

namespace nnx {

struct ValueAndGrad {
  Array value;  // the loss (an Array of one element)
  State grads;  // d loss / d variable, keyed by the variables' paths
};

template <class Aux> struct ValueAndGradAux {
  Array value;
  Aux aux;
  State grads;
};

class Optimizer;

namespace detail {
struct CachedWalk;
// The non-template part: marks the selected variables as tape leaves on construction; finish()
// runs the backward pass and collects the gradients. Leaves the module untracked in any case.
// While it lives, a Variable of the module's object that is not in its State and takes part in
// the loss is an error (FieldCheck, module.hpp): a field missing from NNX_FIELDS.
class GradScope {
 public:
  GradScope(Module& module, const Filter& wrt);
  ~GradScope();
  GradScope(const GradScope&) = delete;
  GradScope& operator=(const GradScope&) = delete;
  State finish(const Array& loss);
  // train_step's route: the backward pass, then optimizer.update with the gradients as a flat
  // list in the optimizer's parameter order (no State of gradients built).
  void finish_into(const Array& loss, Optimizer& optimizer, Module& module);
  void print_tape(std::ostream& os) const;

 private:
  void backward(const Array& loss);
  std::shared_ptr<const CachedWalk> walk_;  // kept alive: selected_ and the FieldCheck point into it
  FieldCheck fields_;
  std::vector<std::size_t>& selected_;  // indices into walk_'s variables (this thread's, reused: scopes do not nest)
  bool finished_ = false;
};

template <class T> struct is_pair : std::false_type {};
template <class A, class B> struct is_pair<std::pair<A, B>> : std::true_type {};
}  // namespace detail

// Runs loss_fn(module) and differentiates its result with respect to the variables selected by
// `wrt`. loss_fn returns an Array of one element, or std::pair<Array, Aux> (then Aux is returned
// alongside and not differentiated).
template <class M, class F> auto value_and_grad(M& module, F&& loss_fn, const Filter& wrt = Param{}) {
  static_assert(std::derived_from<M, Module>, "nnx::value_and_grad differentiates a Module");
  using R = std::remove_cvref_t<std::invoke_result_t<F, M&>>;
  detail::GradScope scope(module, wrt);
  if constexpr (detail::is_pair<R>::value) {
    R result = std::forward<F>(loss_fn)(module);
    State grads = scope.finish(result.first);
    return ValueAndGradAux<typename R::second_type>{std::move(result.first), std::move(result.second), std::move(grads)};
  } else {
    static_assert(std::is_same_v<R, Array>, "the loss function must return nnx::Array or std::pair<nnx::Array, Aux>");
    Array loss = std::forward<F>(loss_fn)(module);
    State grads = scope.finish(loss);
    return ValueAndGrad{std::move(loss), std::move(grads)};
  }
}

namespace debug {
// Prints this thread's gradient tape (see the top of this file); outside value_and_grad, says so.
void print_tape(std::ostream& os);
}  // namespace debug

// Only the gradients.
template <class M, class F> State grad(M& module, F&& loss_fn, const Filter& wrt = Param{}) {
  return value_and_grad(module, std::forward<F>(loss_fn), wrt).grads;
}

}  // namespace nnx
