// linear(x, kernel, bias, activation): a dense layer's forward and backward as one op.
//
// Why fused: a small layer's step is dominated by per-op overhead (an output buffer, a tape node,
// a pass over memory each) rather than arithmetic. This op makes one output buffer and one tape
// node where matmul, add and relu made three of each, and applies bias and relu in the pass that
// reads the product. It computes exactly what those ops compute, in the same order (the product
// on the matmul backend; + bias; relu; backward: the relu mask, g . kernel^T, x^T . g, and the bias
// gradient summed over rows in row order from +0), so its bits are those of the unfused ops —
// a test checks both ways on every path.
#include "kernels.hpp"
#include "../eigen.hpp"
#include "nnx/ops.hpp"

namespace nnx {

using detail::Grads;
using detail::Node;

namespace {

// The elementwise passes are NNX_ELEMENTWISE_CLONES (kernels.hpp): the same bits on every ISA.
// out = relu?(out + bias), one pass, row by row; bias may be null.
template <class T>
NNX_ELEMENTWISE_CLONES void bias_activation(T* out, const T* bias, std::int64_t rows, std::int64_t cols, bool relu) {
  for (std::int64_t r = 0; r < rows; ++r) {
    T* y = out + r * cols;
    if (bias && relu)
      for (std::int64_t c = 0; c < cols; ++c) {
        const T v = y[c] + bias[c];
        y[c] = v > T(0) ? v : T(0);
      }
    else if (bias)
      for (std::int64_t c = 0; c < cols; ++c) y[c] = y[c] + bias[c];
    else if (relu)
      for (std::int64_t c = 0; c < cols; ++c) {
        const T v = y[c];
        y[c] = v > T(0) ? v : T(0);
      }
  }
}

// relu's backward: mask[i] = g[i] where y[i] > 0, else 0 (both loads unconditional: a select).
template <class T> NNX_ELEMENTWISE_CLONES void relu_mask(const T* g, const T* y, T* mask, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) {
    const T gv = g[i];
    mask[i] = y[i] > T(0) ? gv : T(0);
  }
}

// acc[c] += z[r, c] for r = 0 .. rows-1 in order: the bias gradient (acc starts at +0).
template <class T> NNX_ELEMENTWISE_CLONES void sum_rows(const T* __restrict z, T* __restrict acc, std::int64_t rows, std::int64_t cols) {
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < cols; ++c) acc[c] += z[r * cols + c];
}

// num[0]: 1 when relu is fused. saved: x, kernel, the output (its sign is relu's mask).
void linear_rule(const Array& g, const Node& n, Grads& d) {
  const Array &x = n.saved[0], &kernel = n.saved[1], &out = n.saved[2];
  const bool relu = n.num[0] != 0;
  detail::floating("linear backward", g, [&](auto t) {
    using T = decltype(t);
    const std::int64_t cols = kernel.dim(1), rows = g.numel() / cols;
    Array masked;  // relu's backward: g where the output is > 0, else 0
    if (relu) {
      masked = Array::empty(g.shape(), g.dtype());
      relu_mask(g.data<T>(), out.data<T>(), masked.mutable_data<T>(), g.numel());
    }
    const Array& dz = relu ? masked : g;
    if (d.wanted(0)) d[0] = detail::matmul_impl<T>(dz, kernel, false, true, x.shape());  // dz . kernel^T
    if (d.wanted(1))                                                                    // x^T . dz
      d[1] = detail::matmul_impl<T>(x.reshape({rows, kernel.dim(0)}), dz.reshape({rows, cols}), true, false,
                                    kernel.shape());
    if (n.n_inputs > 2 && d.wanted(2)) {  // the bias: dz summed over rows, in row order, from +0
      Array db = Array::zeros({cols}, g.dtype());
      sum_rows(dz.data<T>(), db.mutable_data<T>(), rows, cols);
      d[2] = std::move(db);
    }
  });
}

Array linear_impl(const Array& x, const Array& kernel, const Array* bias, Activation activation) {
  detail::check_same_dtype("linear", x, kernel);
  if (x.ndim() < 1 || kernel.ndim() != 2 || x.dim(-1) != kernel.dim(0))
    throw Error("linear: cannot multiply " + x.shape_dtype().str() + " by the kernel " + kernel.shape_dtype().str() +
                "; expected (..., k) x (k, n)");
  if (bias) {
    detail::check_same_dtype("linear", x, *bias);
    if (bias->ndim() != 1 || bias->dim(0) != kernel.dim(1))
      throw Error("linear: the bias must be (" + std::to_string(kernel.dim(1)) + "), got " + bias->shape_dtype().str());
  }
  const bool fused = activation == Activation::identity || activation == Activation::relu;
  if (!fused) return activate(activation, linear_impl(x, kernel, bias, Activation::identity));
  const bool relu = activation == Activation::relu;
  Shape shape = x.shape();
  shape.back() = kernel.dim(1);
  if (x.is_abstract() || kernel.is_abstract() || (bias && bias->is_abstract())) return Array::abstract(shape, x.dtype());
  Array out = detail::floating("linear", x, [&](auto t) {
    using T = decltype(t);
    Array y = detail::matmul_impl<T>(x, kernel, false, false, shape);
    bias_activation<T>(y.mutable_data<T>(), bias ? bias->data<T>() : nullptr, y.numel() / kernel.dim(1), kernel.dim(1),
                       relu);
    return y;
  });
  detail::Saved saved{.arrays = {x, kernel, out}};
  saved.num[0] = relu ? 1 : 0;
  if (bias) detail::record(out, "linear", {x, kernel, *bias}, saved, linear_rule);
  else detail::record(out, "linear", {x, kernel}, saved, linear_rule);
  return out;
}

}  // namespace

Array linear(const Array& x, const Array& kernel, const Array& bias, Activation activation) {
  return linear_impl(x, kernel, &bias, activation);
}
Array linear(const Array& x, const Array& kernel, Activation activation) {
  return linear_impl(x, kernel, nullptr, activation);
}

}  // namespace nnx
