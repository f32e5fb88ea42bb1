// nnx/ops.hpp — the array operations models are written in; each one is differentiable.
//
// Layers and losses call these functions rather than Eigen directly, so one place decides how an
// operation runs (Eigen's vectorised kernels, fixed reduction order) and how it is differentiated:
// inside nnx::value_and_grad every call on a tracked Array records one tape node (per tensor
// operation, never per element). Outside it they are plain functions. float32 and float64.
//
//   nnx::Array y = nnx::add(nnx::matmul(x, kernel), bias);   // (n, in) x (in, out) + (out)
//   nnx::Array p = nnx::softmax(y);                           // over the last axis
//
// Broadcasting follows NumPy: shapes are aligned at the right; a dimension of 1 (or a missing
// one) stretches. Gradients of broadcast inputs are summed back to the input's shape.
// Transcendentals (exp, log, tanh, ...) are computed with nnx::portable math, not the platform's
// libm, so results are bitwise the same on every machine.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "nnx/array.hpp"
#include "nnx/key.hpp"

namespace nnx {

// ---- elementwise, with broadcasting
Array add(const Array& a, const Array& b);
Array sub(const Array& a, const Array& b);
Array mul(const Array& a, const Array& b);
Array div(const Array& a, const Array& b);
Array maximum(const Array& a, const Array& b);   // gradient to the larger (to `a` on ties)
Array scale(const Array& a, double factor);      // a * factor
Array add_scalar(const Array& a, double value);  // a + value
Array neg(const Array& a);
Array exp(const Array& a);
Array log(const Array& a);
Array sqrt(const Array& a);
Array pow(const Array& a, double exponent);
Array square(const Array& a);
Array abs(const Array& a);
Array clip(const Array& a, double lo, double hi);  // gradient 0 outside [lo, hi]
// cond ? a : b elementwise; `cond` is any dtype (non-zero is true) and is not differentiated.
Array where(const Array& cond, const Array& a, const Array& b);
// Equal-shaped comparisons giving 0/1 in a's dtype (not differentiated).
Array greater(const Array& a, const Array& b);
Array stop_gradient(const Array& a);  // the same value, treated as a constant by value_and_grad

// ---- activations
enum class Activation { identity, relu, leaky_relu, gelu, silu, tanh, sigmoid };
std::string_view activation_name(Activation activation);
Activation activation_from_name(std::string_view name);  // throws nnx::Error listing the valid names
// A module's Activation field shows as its name in a GraphDef ("relu") and parses back (module.hpp).
inline std::string_view nnx_attribute_text(Activation a) { return activation_name(a); }
inline void nnx_attribute_parse(std::string_view text, Activation& a) { a = activation_from_name(text); }
Array activate(Activation activation, const Array& x);
Array relu(const Array& x);
Array leaky_relu(const Array& x, double negative_slope = 0.01);
Array gelu(const Array& x);  // the tanh approximation, jax.nn.gelu's default
Array silu(const Array& x);
Array tanh(const Array& x);
Array sigmoid(const Array& x);

// ---- linear algebra and shapes
// (..., k) x (k, n) -> (..., n): leading axes of `a` act as one batch axis.
Array matmul(const Array& a, const Array& b);
// A dense layer as one op: activation(x . kernel + bias), (..., k) x (k, n) + (n). The same bits as
// matmul, add and activate in turn; with identity or relu it makes one output buffer and one tape
// node instead of three (other activations run after it as their own op).
Array linear(const Array& x, const Array& kernel, const Array& bias, Activation activation = Activation::identity);
Array linear(const Array& x, const Array& kernel, Activation activation = Activation::identity);
Array transpose(const Array& a, std::vector<int> axes = {});  // default: reverse the axes
Array reshape(const Array& a, Shape shape);                    // one dimension may be -1
Array concat(const std::vector<Array>& arrays, int axis = 0);
// Rows of `a` (along axis 0) at `indices` (int32 or int64): embedding lookup, batch selection.
Array gather_rows(const Array& a, const Array& indices);
Array slice_rows(const Array& a, std::int64_t begin, std::int64_t end);  // rows [begin, end)

// ---- reductions (axes empty = all axes; negative axes count from the end)
Array sum(const Array& a, std::vector<int> axes = {}, bool keepdims = false);
Array mean(const Array& a, std::vector<int> axes = {}, bool keepdims = false);
Array max(const Array& a, std::vector<int> axes = {}, bool keepdims = false);  // gradient to the first maximum
Array softmax(const Array& a, int axis = -1);
Array log_softmax(const Array& a, int axis = -1);
// Index of the largest element along the last axis: (..., n) -> (...) int32. Not differentiated.
Array argmax(const Array& a);

// ---- layers' building blocks
// Zeroes each element with probability `rate` and scales the rest by 1/(1-rate). Element i keeps
// when uniform01(key, i) >= rate, so the mask depends only on the key and the element's index.
Array dropout(const Array& x, double rate, Key key);
// Mean and biased variance over every axis but the last: (..., f) -> (f), (f). Not differentiated.
void moments(const Array& x, Array& mean, Array& variance);
// (x - mean) / sqrt(variance + epsilon) * scale + bias over the last axis; statistics held fixed
// (evaluation mode). `scale` / `bias` may be default-constructed (empty) Arrays to skip them.
Array normalize(const Array& x, const Array& mean, const Array& variance, const Array& scale, const Array& bias,
                double epsilon);
// Training-mode batch normalisation: normalises with the batch's own statistics, differentiated
// through them (as Flax does), and returns those statistics (not differentiated) for running averages.
Array batch_norm_train(const Array& x, const Array& scale, const Array& bias, double epsilon, Array& batch_mean,
                       Array& batch_variance);

}  // namespace nnx
