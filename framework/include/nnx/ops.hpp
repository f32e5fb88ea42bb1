// nnx/ops.hpp — the array operations layers are written in.
//
// Layers call these functions rather than Eigen directly, so one place decides how an operation
// runs (Eigen's vectorised kernels, fixed reduction order) and, with the training component, how it
// is differentiated. All work on float32 and float64; batches are row-major (batch, features).
//
//   nnx::Array y = nnx::add(nnx::matmul(x, kernel), bias);   // (n, in) x (in, out) + (out)
//   nnx::Array h = nnx::relu(y);
#pragma once

#include <string_view>

#include "nnx/array.hpp"
#include "nnx/rngs.hpp"

namespace nnx {

// (..., k) x (k, n) -> (..., n): leading axes of `a` are treated as one batch axis.
Array matmul(const Array& a, const Array& b);
// Elementwise with broadcasting of `b` over the leading axes of `a`: b's shape must equal a's or
// a suffix of it (a bias (n) added to (batch, n)).
Array add(const Array& a, const Array& b);
Array sub(const Array& a, const Array& b);
Array mul(const Array& a, const Array& b);
Array scale(const Array& a, double factor);

enum class Activation { identity, relu, leaky_relu, gelu, silu, tanh, sigmoid };
std::string_view activation_name(Activation activation);
Activation activation_from_name(std::string_view name);  // throws nnx::Error listing the valid names
Array activate(Activation activation, const Array& x);
inline Array relu(const Array& x) { return activate(Activation::relu, x); }
inline Array gelu(const Array& x) { return activate(Activation::gelu, x); }
inline Array silu(const Array& x) { return activate(Activation::silu, x); }
inline Array tanh(const Array& x) { return activate(Activation::tanh, x); }
inline Array sigmoid(const Array& x) { return activate(Activation::sigmoid, x); }
Array leaky_relu(const Array& x, double negative_slope = 0.01);

// Zeroes each element with probability `rate` and scales the rest by 1/(1-rate). Element i keeps
// when uniform01(key, i) >= rate, so the mask depends only on the key and the element's index.
Array dropout(const Array& x, double rate, Key key);

// Mean and biased variance over every axis but the last: (..., f) -> (f), (f).
void moments(const Array& x, Array& mean, Array& variance);
// (x - mean) / sqrt(variance + epsilon) * scale + bias, each of shape (f), over the last axis of x.
// `scale` and `bias` may be empty (default-constructed) Arrays to skip them.
Array normalize(const Array& x, const Array& mean, const Array& variance, const Array& scale, const Array& bias,
                double epsilon);

}  // namespace nnx
