// Internal: shared machinery of the ops — dtype dispatch, NumPy broadcasting, elementwise maps,
// and gradient recording. Loops run in row-major order, so every reduction has a fixed order.
#pragma once

#include <cstdint>
#include <string>
#include <type_traits>

#include "../autodiff/tape.hpp"
#include "nnx/array.hpp"
#include "nnx/error.hpp"

// Elementwise loops compiled for several instruction sets and picked at load time (GCC's
// target_clones): lanes are independent and -ffp-contract=off holds, so every clone gives the
// same bits; wider ones only take fewer instructions.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define NNX_ELEMENTWISE_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define NNX_ELEMENTWISE_CLONES
#endif

namespace nnx::detail {

// Calls f(T{}) with T = float or double; other dtypes are an error naming the operation.
template <class F> decltype(auto) floating(const char* op, const Array& a, F&& f) {
  if (a.dtype() == DType::float32) return f(float{});
  if (a.dtype() == DType::float64) return f(double{});
  throw Error(std::string(op) + ": expected a float32 or float64 array, got " + a.shape_dtype().str());
}

void check_same_dtype(const char* op, const Array& a, const Array& b);
int normalize_axis(const char* op, int axis, int rank);

// Two shapes broadcast against each other: the result shape and, per result axis, each input's
// stride in elements (0 where the input is stretched).
struct Broadcast {
  Shape out;
  std::int64_t a_stride[Shape::max_rank] = {};
  std::int64_t b_stride[Shape::max_rank] = {};
};
Broadcast broadcast(const char* op, const Shape& a, const Shape& b);

// out[i] = f(a[.], b[.]) over the broadcast shape; the innermost loop is specialised on strides.
template <class T, class F> void broadcast_apply(const Broadcast& p, const T* a, const T* b, T* out, F f) {
  const std::size_t n = p.out.size();
  if (n == 0) {
    out[0] = f(a[0], b[0]);
    return;
  }
  const std::int64_t inner = p.out[n - 1];
  const std::int64_t numel = shape_numel(p.out);
  if (numel == 0) return;
  const std::int64_t sa = p.a_stride[n - 1], sb = p.b_stride[n - 1];
  std::int64_t index[Shape::max_rank] = {};
  std::int64_t ao = 0, bo = 0;
  for (std::int64_t o = 0; o < numel / inner; ++o) {
    T* z = out + o * inner;
    const T* x = a + ao;
    const T* y = b + bo;
    if (sa == 1 && sb == 1)
      for (std::int64_t i = 0; i < inner; ++i) z[i] = f(x[i], y[i]);
    else if (sa == 1)
      for (std::int64_t i = 0; i < inner; ++i) z[i] = f(x[i], y[0]);
    else if (sb == 1)
      for (std::int64_t i = 0; i < inner; ++i) z[i] = f(x[0], y[i]);
    else
      for (std::int64_t i = 0; i < inner; ++i) z[i] = f(x[0], y[0]);
    for (std::size_t d = n - 1; d-- > 0;) {
      ao += p.a_stride[d];
      bo += p.b_stride[d];
      if (++index[d] < p.out[d]) break;
      ao -= p.a_stride[d] * p.out[d];
      bo -= p.b_stride[d] * p.out[d];
      index[d] = 0;
    }
  }
}

// Sums `g` (of a broadcast result's shape) down to `shape`: the gradient of a broadcast input.
Array sum_to_shape(const Array& g, const Shape& shape);

// op(a) . op(b) into a new Array of `out_shape` on the current matmul backend (linalg.cpp); a and
// b are read as 2-d (leading axes flattened). float and double.
template <class T> Array matmul_impl(const Array& a, const Array& b, bool trans_a, bool trans_b, Shape out_shape);

// out[i] = f(x[i]) in x's dtype (float32 / float64).
template <class F> Array map_unary(const char* op, const Array& x, F f) {
  if (x.is_abstract()) return Array::abstract(x.shape(), x.dtype());
  Array out = Array::empty(x.shape(), x.dtype());
  floating(op, x, [&](auto t) {
    using T = decltype(t);
    const T* p = x.data<T>();
    T* q = out.mutable_data<T>();
    const std::int64_t n = x.numel();
    for (std::int64_t i = 0; i < n; ++i) q[i] = f(p[i]);
  });
  return out;
}

// out[i] = f(x[i], y[i]) for two equal-shaped arrays (gradients: g times a local derivative).
template <class F> Array map_binary_same(const char* op, const Array& x, const Array& y, F f) {
  Array out = Array::empty(x.shape(), x.dtype());
  floating(op, x, [&](auto t) {
    using T = decltype(t);
    const T* p = x.data<T>();
    const T* q = y.data<T>();
    T* r = out.mutable_data<T>();
    const std::int64_t n = x.numel();
    for (std::int64_t i = 0; i < n; ++i) r[i] = f(p[i], q[i]);
  });
  return out;
}

// Records a unary op whose input gradient is Grad{}(g, x, y) elementwise, or Grad{}(g, x, y, num)
// for rules with parameters (g the output's gradient, y the output, num = saved.num). Grad is a
// captureless lambda called with the element type, so simple rules vectorise; rules that only pass
// g through or zero it (relu) should select rather than multiply, which stays fast when g holds
// denormal numbers.
template <class Grad> void unary_rule(const Array& g, const Node& n, Grads& d) {
  const Array& x = n.saved[0];
  const Array& y = n.saved[1];
  const Numbers num = n.num;
  Array gx = Array::empty(x.shape(), x.dtype());
  floating("backward", x, [&](auto t) {
    using T = decltype(t);
    const T* __restrict gp = g.data<T>();
    const T* __restrict xp = x.data<T>();
    const T* __restrict yp = y.data<T>();
    T* __restrict out = gx.mutable_data<T>();
    const std::int64_t count = x.numel();
    for (std::int64_t i = 0; i < count; ++i) {
      if constexpr (std::is_invocable_v<Grad, T, T, T>) out[i] = static_cast<T>(Grad{}(gp[i], xp[i], yp[i]));
      else out[i] = static_cast<T>(Grad{}(gp[i], xp[i], yp[i], num));
    }
  });
  d[0] = std::move(gx);
}
template <class Grad> void record_unary(Array& y, const char* op, const Array& x, Numbers num, Grad) {
  record(y, op, {x}, {.arrays = {x, y}, .num = num}, &unary_rule<Grad>);
}
template <class Grad> void record_unary(Array& y, const char* op, const Array& x, Grad grad) {
  record_unary(y, op, x, Numbers{}, grad);
}

}  // namespace nnx::detail
