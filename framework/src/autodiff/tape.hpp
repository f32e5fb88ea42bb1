// Internal: the reverse-mode tape behind value_and_grad.
//
// While a tape records (Tape::recording() != nullptr), every differentiable op whose inputs include
// a tracked Array (grad_node() >= 0) appends one node holding a closure that, given the gradient of
// the op's output, accumulates the gradients of its inputs. Nodes are appended in execution order,
// so walking them backwards is a topological order; accumulation order is fixed, hence deterministic.
#pragma once

#include <cstdint>
#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>
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

// A move-only callable void(const Array&) that stores closures of up to kInline bytes in place:
// ops capture a few Arrays, and a heap allocation per recorded op would cost more than the op.
class Backward {
 public:
  static constexpr std::size_t kInline = 384;
  Backward() = default;
  template <class F>
    requires(!std::is_same_v<std::remove_cvref_t<F>, Backward>)
  Backward(F&& f) {  // NOLINT: implicit, so ops pass lambdas directly
    using Fn = std::remove_cvref_t<F>;
    if constexpr (sizeof(Fn) <= kInline && alignof(Fn) <= alignof(std::max_align_t)) {
      new (buffer_) Fn(std::forward<F>(f));
      object_ = buffer_;
      move_ = [](void* dst, void* src) -> void* {
        auto* moved = new (dst) Fn(std::move(*static_cast<Fn*>(src)));
        static_cast<Fn*>(src)->~Fn();
        return moved;
      };
      destroy_ = [](void* p) { static_cast<Fn*>(p)->~Fn(); };
    } else {
      object_ = new Fn(std::forward<F>(f));
      destroy_ = [](void* p) { delete static_cast<Fn*>(p); };
    }
    invoke_ = [](void* p, const Array& g) { (*static_cast<Fn*>(p))(g); };
  }
  Backward(Backward&& o) noexcept { take(o); }
  Backward& operator=(Backward&& o) noexcept {
    if (this != &o) {
      reset();
      take(o);
    }
    return *this;
  }
  Backward(const Backward&) = delete;
  Backward& operator=(const Backward&) = delete;
  ~Backward() { reset(); }

  explicit operator bool() const { return object_ != nullptr; }
  void operator()(const Array& g) const { invoke_(object_, g); }
  void reset() {
    if (object_) destroy_(object_);
    object_ = nullptr;
  }

 private:
  void take(Backward& o) {
    invoke_ = o.invoke_;
    destroy_ = o.destroy_;
    move_ = o.move_;
    if (!o.object_) return;
    object_ = o.move_ ? o.move_(buffer_, o.object_) : o.object_;  // heap closures just change hands
    o.object_ = nullptr;
  }

  alignas(std::max_align_t) unsigned char buffer_[kInline];
  void* object_ = nullptr;
  void (*invoke_)(void*, const Array&) = nullptr;
  void (*destroy_)(void*) = nullptr;
  void* (*move_)(void*, void*) = nullptr;  // null for heap-held closures
};

class Tape {
 public:
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
