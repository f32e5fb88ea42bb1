#include "nnx/autodiff.hpp"

#include <ostream>

#include "../graph_walk.hpp"
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
}  // namespace

GradScope::GradScope(Module& module, const Filter& wrt) : GradScope(wrt, walk_graph(module, false)) {}

GradScope::GradScope(const Filter& wrt, const GraphWalk& walk) : fields_(walk, "value_and_grad") {
  std::vector<Difference> integer;
  for (auto& [path, var] : walk.variables) {
    if (!wrt(path, *var)) continue;
    if (!dtype_is_floating(var->value.dtype()))
      integer.push_back({path, Difference::What::dtype, "float32 or float64", var->value.shape_dtype().str()});
    variables_.emplace_back(path, var);
  }
  if (!integer.empty())
    throw StructureError("value_and_grad: only floating-point variables can be differentiated", std::move(integer),
                         "differentiate with respect to nnx::Param{} (the default) or a filter that selects "
                         "float variables");
  Tape& tape = thread_tape();
  tape.start();
  for (auto& [path, var] : variables_) nodes_.push_back(tape.add_leaf(var->value));
  g_scope = this;
}

GradScope::~GradScope() {
  if (g_scope == this) g_scope = nullptr;
  if (finished_) return;
  for (auto& [path, var] : variables_) TapeAccess::clear(var->value);
  thread_tape().reset();
}

State GradScope::finish(const Array& loss) {
  Tape& tape = thread_tape();
  if (loss.numel() != 1 || !dtype_is_floating(loss.dtype()))
    throw Error("value_and_grad: the loss function must return a floating-point scalar (one element), got " +
                loss.shape_dtype().str() + "; reduce it, e.g. with nnx::mean");
  tape.backward(loss);
  State::Map grads;
  for (std::size_t i = 0; i < variables_.size(); ++i) {
    Variable* var = variables_[i].second;
    const Array* g = tape.grad(nodes_[i]);
    Array value = g ? *g : Array::zeros(var->value.shape(), var->value.dtype());
    grads.emplace_hint(grads.end(), std::move(variables_[i].first), Variable(var->kind(), std::move(value)));
    TapeAccess::clear(var->value);
  }
  tape.reset();
  finished_ = true;
  return State(std::move(grads));
}

void GradScope::print_tape(std::ostream& os) const {
  // The leaves are the tape's first nodes, in the order of variables_.
  thread_tape().print(os, [&](std::ostream& o, std::int32_t leaf) {
    o << variables_[static_cast<std::size_t>(leaf)].first;
  });
}

}  // namespace nnx::detail

namespace nnx::debug {
void print_tape(std::ostream& os) {
  if (detail::g_scope) detail::g_scope->print_tape(os);
  else os << "tape: none (not inside value_and_grad on this thread)\n";
}
}  // namespace nnx::debug
