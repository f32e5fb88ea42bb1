// Internal: the reverse-mode tape behind value_and_grad — micrograd's graph of Values, flattened.
//
// While a tape records, every differentiable op calls record() once after its forward pass. When
// some input is tracked (grad_node() >= 0), record() appends one Node and marks the output as that
// node; otherwise it does nothing. Nodes are appended in execution order, so walking them backwards
// is a topological order, and each node's input gradients are added in input order: the backward
// pass sums in one fixed order, hence bitwise reproducible gradients.
//
// Why a node is plain data with a function pointer rather than a closure: a gradient rule is
// stateless math, and everything it reads (saved arrays, a few numbers) sits in the node. So
// recording is a vector append — no type erasure, no allocation per node once the vector has its
// capacity (one tape per thread, reused) — and the tape can be printed. The price: rules cannot
// capture; an op saves at most kMaxSaved arrays and kMaxNumbers numbers.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <iosfwd>
#include <span>
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

inline constexpr std::size_t kMaxInputs = 3, kMaxSaved = 3, kMaxNumbers = Shape::max_rank;
using Numbers = std::array<double, kMaxNumbers>;

struct Node;
class Grads;
// A gradient rule: given g = d loss / d output, sets d[i] = d loss / d input i for every input with
// d.wanted(i). Captureless lambdas convert to it.
using Rule = void (*)(const Array& g, const Node& node, Grads& d);

struct Node {
  const char* op = "leaf";                         // a string literal: "mul", "matmul", ...
  Rule rule = nullptr;                             // nullptr for leaves (the differentiated variables)
  std::uint32_t n_inputs = 0;
  std::array<std::int32_t, kMaxInputs> inputs{};   // node ids; -1 for untracked inputs
  ShapeDtype out;                                  // the output's type (its gradient must match)
  std::array<Array, kMaxSaved> saved;              // what the rule reads; released once it ran
  Numbers num{};                                   // scalars the rule reads (factors, axes, ...)
  Array grad;                                      // d loss / d output; kept for leaves only
  bool has_grad = false;                           // a gradient arrived (stays true once released)
};

// The gradients one rule produces, one slot per input of the node.
class Grads {
 public:
  Grads(const std::vector<Node>& nodes, const Node& node) : nodes_(nodes), node_(node) {}
  bool wanted(std::size_t i) const { return node_.inputs[i] >= 0; }
  // Input i's shape and dtype; only for wanted inputs.
  const ShapeDtype& type(std::size_t i) const { return nodes_[static_cast<std::size_t>(node_.inputs[i])].out; }
  const Shape& shape(std::size_t i) const { return type(i).shape; }
  Array& operator[](std::size_t i) { return d_[i]; }

 private:
  const std::vector<Node>& nodes_;
  const Node& node_;
  std::array<Array, kMaxInputs> d_;
};

using ArrayRefs = std::span<const std::reference_wrapper<const Array>>;
using ArrayList = std::initializer_list<std::reference_wrapper<const Array>>;
// What an op keeps for its rule; copied into the node only when the op records.
struct Saved {
  ArrayList arrays = {};
  Numbers num{};
};

class FieldCheck;  // module.hpp
// Makes `check` this thread's active FieldCheck (null: none); returns the previous one.
const FieldCheck* exchange_field_check(const FieldCheck* check);

// The one place that decides whether an op records (and that checks its inputs against the
// active FieldCheck, if any): when this thread's tape records and one of
// `inputs` is tracked, appends a node op(inputs) -> out with `rule` and marks `out` as its output.
// Returns whether it recorded. At most kMaxInputs inputs.
bool record(Array& out, const char* op, ArrayRefs inputs, const Saved& saved, Rule rule);
inline bool record(Array& out, const char* op, ArrayList inputs, const Saved& saved, Rule rule) {
  return record(out, op, ArrayRefs(inputs.begin(), inputs.size()), saved, rule);
}

class Tape {
 public:
  static Tape* recording();  // the tape ops record on, or nullptr

  void check_not_differentiating() const;  // throws when a value_and_grad already runs on this thread
  void start();  // begins recording on this thread
  void stop();   // stops recording (node ids stay valid until reset)
  void reset();  // forgets every node; ids become invalid
  // Stops this thread's recording and returns the tape that was recording (or null); resume(that)
  // starts it again. predict() runs between the two.
  static Tape* pause();
  static void resume(Tape* tape);

  std::int32_t add_leaf(Array& a);
  // Runs the backward pass from `loss` (a tracked scalar), seeding d loss / d loss = 1.
  void backward(const Array& loss);
  const Array* grad(std::int32_t node) const;  // a leaf's gradient; nullptr when nothing flowed in

  // One line per node: index, op, inputs, output type, whether a gradient arrived. `leaf_name`
  // (optional) labels leaves, e.g. with their variable paths.
  void print(std::ostream& os, const std::function<void(std::ostream&, std::int32_t)>& leaf_name = {}) const;

 private:
  friend bool record(Array&, const char*, ArrayRefs, const Saved&, Rule);
  void accumulate(std::int32_t node, Array grad, const Node& from);

  std::vector<Node> nodes_;
  std::uint32_t id_ = 0;
};

}  // namespace nnx::detail
