// Internal: the reverse-mode tape behind value_and_grad.
//
// While a tape records (Tape::recording() != nullptr), every differentiable op whose inputs include
// a tracked Array (grad_node() >= 0) appends one node holding a closure that, given the gradient of
// the op's output, accumulates the gradients of its inputs. Nodes are appended in execution order,
// so walking them backwards is a topological order; accumulation order is fixed, hence deterministic.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "nnx/array.hpp"

namespace nnx::detail {

struct TapeAccess {
  static void set_node(Array& a, std::int32_t node, std::uint32_t tape) {
    a.node_ = node;
    a.tape_ = tape;
  }
  static void clear(Array& a) { a.node_ = -1; }
};

class Tape {
 public:
  using Backward = std::function<void(const Array& grad_out)>;

  static Tape* recording();  // the tape ops record on, or nullptr
  static std::uint32_t active_id();

  void start();  // begins recording on this thread
  void stop();   // stops recording (node ids stay valid until reset)
  void reset();  // forgets every node; ids become invalid

  std::int32_t add_leaf(Array& a);
  void record(Array& out, Backward backward);
  // Adds `grad` into the gradient of `node` (no-op for node < 0).
  void accumulate(std::int32_t node, Array grad);
  // Runs the backward pass from `loss` (a tracked scalar), seeding d loss / d loss = 1.
  void backward(const Array& loss);
  const Array* grad(std::int32_t node) const;  // nullptr when nothing flowed into node

 private:
  std::vector<Backward> backward_;
  std::vector<Array> grads_;
  std::vector<bool> has_grad_;
  std::uint32_t id_ = 0;
};

// The tape to record on when any of `inputs` is tracked; nullptr otherwise.
inline Tape* recording_for(std::initializer_list<const Array*> inputs) {
  Tape* t = Tape::recording();
  if (!t) return nullptr;
  for (const Array* a : inputs)
    if (a->grad_node() >= 0) return t;
  return nullptr;
}

}  // namespace nnx::detail
