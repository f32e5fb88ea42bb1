#include "tape.hpp"

#include <atomic>

#include "../eigen.hpp"
#include "nnx/error.hpp"

namespace nnx {

namespace {
thread_local detail::Tape* g_recording = nullptr;
thread_local std::uint32_t g_active_id = 0;
std::atomic<std::uint32_t> g_next_id{1};
}  // namespace

std::int32_t Array::grad_node() const { return (node_ >= 0 && tape_ == g_active_id && tape_ != 0) ? node_ : -1; }

namespace detail {

Tape* Tape::recording() { return g_recording; }
std::uint32_t Tape::active_id() { return g_active_id; }

void Tape::start() {
  if (g_active_id != 0)
    throw Error("value_and_grad: already differentiating on this thread; nested value_and_grad is not supported");
  id_ = g_next_id.fetch_add(1);
  if (id_ == 0) id_ = g_next_id.fetch_add(1);  // 0 means "no tape"
  g_active_id = id_;
  g_recording = this;
}

void Tape::stop() {
  if (g_recording == this) g_recording = nullptr;
}

void Tape::reset() {
  stop();
  if (g_active_id == id_) g_active_id = 0;
  backward_.clear();
  grads_.clear();
  has_grad_.clear();
}

std::int32_t Tape::add_leaf(Array& a) {
  const auto node = static_cast<std::int32_t>(backward_.size());
  backward_.emplace_back();
  grads_.emplace_back();
  has_grad_.push_back(false);
  TapeAccess::set_node(a, node, id_);
  return node;
}

void Tape::record(Array& out, Backward backward) {
  const auto node = static_cast<std::int32_t>(backward_.size());
  backward_.push_back(std::move(backward));
  grads_.emplace_back();
  has_grad_.push_back(false);
  TapeAccess::set_node(out, node, id_);
}

void Tape::accumulate(std::int32_t node, Array grad) {
  if (node < 0) return;
  auto n = static_cast<std::size_t>(node);
  if (!has_grad_[n]) {
    TapeAccess::clear(grad);
    grads_[n] = std::move(grad);
    has_grad_[n] = true;
    return;
  }
  Array& acc = grads_[n];
  if (acc.shape() != grad.shape() || acc.dtype() != grad.dtype())
    throw Error("autodiff: gradient " + grad.shape_dtype().str() + " does not match " + acc.shape_dtype().str() +
                " (an op's backward pass is wrong; please report it)");
  if (acc.dtype() == DType::float32)
    eigen::mutable_vector<float>(acc) += eigen::vector<float>(grad);
  else
    eigen::mutable_vector<double>(acc) += eigen::vector<double>(grad);
}

void Tape::backward(const Array& loss) {
  const std::int32_t root = loss.grad_node();
  if (root < 0) return;  // the loss does not depend on anything differentiated: all gradients zero
  stop();
  accumulate(root, Array::ones(loss.shape(), loss.dtype()));
  for (auto i = static_cast<std::size_t>(root) + 1; i-- > 0;) {
    if (!has_grad_[i] || !backward_[i]) continue;
    Array g = grads_[i];
    backward_[i](g);
    backward_[i].reset();  // releases the inputs it captured
  }
}

const Array* Tape::grad(std::int32_t node) const {
  if (node < 0 || !has_grad_[static_cast<std::size_t>(node)]) return nullptr;
  return &grads_[static_cast<std::size_t>(node)];
}

}  // namespace detail
}  // namespace nnx
