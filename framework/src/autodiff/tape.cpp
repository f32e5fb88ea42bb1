#include "tape.hpp"

#include <atomic>
#include <ostream>
#include <utility>

#include "../eigen.hpp"
#include "nnx/error.hpp"
#include "nnx/module.hpp"

namespace nnx {

namespace {
thread_local detail::Tape* g_recording = nullptr;
thread_local std::uint32_t g_active_id = 0;
thread_local const detail::FieldCheck* g_field_check = nullptr;
std::atomic<std::uint32_t> g_next_id{1};
}  // namespace

std::int32_t Array::grad_node() const { return (node_ >= 0 && tape_ == g_active_id && tape_ != 0) ? node_ : -1; }

namespace detail {

Tape* Tape::recording() { return g_recording; }

const FieldCheck* exchange_field_check(const FieldCheck* check) { return std::exchange(g_field_check, check); }

void Tape::check_not_differentiating() const {
  if (g_active_id != 0)
    throw Error("value_and_grad: already differentiating on this thread; nested value_and_grad is not supported");
}

void Tape::start() {
  check_not_differentiating();
  id_ = g_next_id.fetch_add(1);
  if (id_ == 0) id_ = g_next_id.fetch_add(1);  // 0 means "no tape"
  g_active_id = id_;
  g_recording = this;
}

void Tape::stop() {
  if (g_recording == this) g_recording = nullptr;
}

Tape* Tape::pause() { return std::exchange(g_recording, nullptr); }
void Tape::resume(Tape* tape) { g_recording = tape; }

void Tape::reset() {
  stop();
  if (g_active_id == id_) g_active_id = 0;
  nodes_.clear();  // keeps the capacity for the next step
}

std::int32_t Tape::add_leaf(Array& a) {
  const auto id = static_cast<std::int32_t>(nodes_.size());
  nodes_.emplace_back().out = a.shape_dtype();
  TapeAccess::set_node(a, id, id_);
  return id;
}

bool record(Array& out, const char* op, ArrayRefs inputs, const Saved& saved, Rule rule) {
  if (const FieldCheck* check = g_field_check)
    for (const Array& in : inputs)
      if (const Variable* owner = in.owner(); owner && in.grad_node() < 0) check->check(*owner, op);
  Tape* tape = g_recording;
  if (!tape) return false;
  if (inputs.size() > kMaxInputs || saved.arrays.size() > kMaxSaved)
    throw Error(std::string("autodiff: op '") + op + "' records too many inputs or saved arrays");
  std::array<std::int32_t, kMaxInputs> ids;
  bool tracked = false;
  for (std::size_t i = 0; i < inputs.size(); ++i) tracked |= (ids[i] = inputs[i].get().grad_node()) >= 0;
  if (!tracked) return false;
  const auto id = static_cast<std::int32_t>(tape->nodes_.size());
  Node& n = tape->nodes_.emplace_back();
  n.op = op;
  n.rule = rule;
  n.n_inputs = static_cast<std::uint32_t>(inputs.size());
  n.inputs = ids;
  n.out = out.shape_dtype();
  std::size_t i = 0;
  for (const Array& a : saved.arrays) n.saved[i++] = a;
  n.num = saved.num;
  TapeAccess::set_node(out, id, tape->id_);
  return true;
}

void Tape::accumulate(std::int32_t node, Array grad, const Node& from) {
  Node& n = nodes_[static_cast<std::size_t>(node)];
  if (grad.dtype() != n.out.dtype || !(grad.shape() == n.out.shape))  // also catches an unset slot
    throw Error("autodiff: the gradient rule of '" + std::string(from.op) + "' produced " + grad.shape_dtype().str() +
                " for an input of type " + n.out.str() + " (an op's backward pass is wrong; please report it)");
  if (!n.has_grad) {
    TapeAccess::clear(grad);
    n.grad = std::move(grad);
    n.has_grad = true;
  } else if (n.out.dtype == DType::float32) {
    eigen::mutable_vector<float>(n.grad) += eigen::vector<float>(grad);
  } else {
    eigen::mutable_vector<double>(n.grad) += eigen::vector<double>(grad);
  }
}

void Tape::backward(const Array& loss) {
  const std::int32_t root = loss.grad_node();
  if (root < 0) return;  // the loss does not depend on anything differentiated: all gradients zero
  stop();
  Node seed;
  seed.op = "seed";
  accumulate(root, Array::ones(loss.shape(), loss.dtype()), seed);
  for (auto i = static_cast<std::size_t>(root) + 1; i-- > 0;) {
    Node& n = nodes_[i];
    if (!n.has_grad || !n.rule) continue;
    Grads d(nodes_, n);
    n.rule(n.grad, n, d);
    // Release what the node held before passing its gradients on: an input gradient that shares
    // n.grad's buffer (add passes g through) can then be accumulated into without a copy.
    n.grad = Array();
    n.saved = {};
    for (std::size_t j = 0; j < n.n_inputs; ++j)
      if (n.inputs[j] >= 0) accumulate(n.inputs[j], std::move(d[j]), n);
  }
}

const Array* Tape::grad(std::int32_t node) const {
  if (node < 0 || !nodes_[static_cast<std::size_t>(node)].has_grad) return nullptr;
  return &nodes_[static_cast<std::size_t>(node)].grad;
}

void Tape::print(std::ostream& os, const std::function<void(std::ostream&, std::int32_t)>& leaf_name) const {
  os << "tape: " << nodes_.size() << " nodes" << (g_recording == this ? ", recording" : "") << '\n';
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    const Node& n = nodes_[i];
    os << "  #" << i << ' ' << n.op;
    if (!n.rule && leaf_name) {
      os << ' ';
      leaf_name(os, static_cast<std::int32_t>(i));
    }
    if (n.rule) {
      os << '(';
      for (std::size_t j = 0; j < n.n_inputs; ++j) {
        os << (j ? ", " : "");
        if (n.inputs[j] >= 0) os << '#' << n.inputs[j];
        else os << "const";
      }
      os << ')';
    }
    os << " -> " << n.out << (n.has_grad ? "  grad" : "") << '\n';
  }
}

}  // namespace detail
}  // namespace nnx
