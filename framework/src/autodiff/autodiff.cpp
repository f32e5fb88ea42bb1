#include "nnx/autodiff.hpp"

#include <ostream>

#include "../graph_walk.hpp"
#include "nnx/optim.hpp"
#include "tape.hpp"

namespace nnx::detail {

namespace {
// One tape per thread, reused so its buffers keep their capacity from step to step.
Tape& thread_tape() {
  static thread_local Tape tape;
  return tape;
}
// The scope differentiating on this thread, for print_tape's leaf names.
thread_local const GradScope* g_scope = nullptr;
// The selection of the scope differentiating on this thread: kept so a step allocates nothing.
std::vector<std::size_t>& thread_selection() {
  static thread_local std::vector<std::size_t> selected;
  return selected;
}
}  // namespace

GradScope::GradScope(Module& module, const Filter& wrt)
    : walk_(cached_walk(module)), fields_(walk_->fields, "value_and_grad"), selected_(thread_selection()) {
  Tape& tape = thread_tape();
  tape.check_not_differentiating();  // before touching the tape or the selection: they may be an outer scope's
  const auto& variables = walk_->walk.variables;
  std::vector<Difference> integer;
  selected_.clear();
  for (std::size_t i = 0; i < variables.size(); ++i) {
    const auto& [path, var] = variables[i];
    if (!wrt(path, *var)) continue;
    if (!dtype_is_floating(var->value.dtype()))
      integer.push_back({path, Difference::What::dtype, "float32 or float64", var->value.shape_dtype().str()});
    selected_.push_back(i);
  }
  if (!integer.empty())
    throw StructureError("value_and_grad: only floating-point variables can be differentiated", std::move(integer),
                         "differentiate with respect to nnx::Param{} (the default) or a filter that selects "
                         "float variables");
  tape.start();
  // Leaf k is node k: the tape is empty when it starts.
  for (std::size_t i : selected_) tape.add_leaf(variables[i].second->value);
  g_scope = this;
}

GradScope::~GradScope() {
  if (g_scope == this) g_scope = nullptr;
  if (finished_) return;
  for (std::size_t i : selected_) TapeAccess::clear(walk_->walk.variables[i].second->value);
  thread_tape().reset();
}

void GradScope::backward(const Array& loss) {
  if (loss.numel() != 1 || !dtype_is_floating(loss.dtype()))
    throw Error("value_and_grad: the loss function must return a floating-point scalar (one element), got " +
                loss.shape_dtype().str() + "; reduce it, e.g. with nnx::mean");
  thread_tape().backward(loss);
}

State GradScope::finish(const Array& loss) {
  backward(loss);
  Tape& tape = thread_tape();
  State::Map grads;
  for (std::size_t k = 0; k < selected_.size(); ++k) {
    const auto& [path, var] = walk_->walk.variables[selected_[k]];
    const Array* g = tape.grad(static_cast<std::int32_t>(k));
    Array value = g ? *g : Array::zeros(var->value.shape(), var->value.dtype());
    grads.emplace_hint(grads.end(), path, Variable(var->kind(), std::move(value)));
    TapeAccess::clear(var->value);
  }
  tape.reset();  // the tape's references go: the gradients' buffers are the State's alone
  finished_ = true;
  return State(std::move(grads));
}

void GradScope::finish_into(const Array& loss, Optimizer& optimizer, Module& module) {
  backward(loss);
  Tape& tape = thread_tape();
  static thread_local std::vector<Array> grads;  // reused: no allocation in a steady-state step
  grads.clear();
  for (std::size_t k = 0; k < selected_.size(); ++k) {
    Variable* var = walk_->walk.variables[selected_[k]].second;
    const Array* g = tape.grad(static_cast<std::int32_t>(k));
    grads.push_back(g ? *g : Array::zeros(var->value.shape(), var->value.dtype()));
    TapeAccess::clear(var->value);
  }
  tape.reset();
  finished_ = true;
  struct Release {  // the buffers go back to the cache even if the update throws
    ~Release() { grads.clear(); }
  } release;
  optimizer.apply(module, *walk_, selected_, grads);
}

void GradScope::print_tape(std::ostream& os) const {
  // The leaves are the tape's first nodes, in the order of selected_.
  thread_tape().print(os, [&](std::ostream& o, std::int32_t leaf) {
    o << walk_->walk.variables[selected_[static_cast<std::size_t>(leaf)]].first;
  });
}

}  // namespace nnx::detail

namespace nnx::debug {
void print_tape(std::ostream& os) {
  if (detail::g_scope) detail::g_scope->print_tape(os);
  else os << "tape: none (not inside value_and_grad on this thread)\n";
}
}  // namespace nnx::debug
