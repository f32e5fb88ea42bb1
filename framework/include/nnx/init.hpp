// nnx/init.hpp — parameter initializers, as jax.nn.initializers.
//
// An Initializer maps (key, shape, dtype) to an Array. Random ones address their bits by element
// (threefry(key, {element, attempt})) and turn bits into numbers with IEEE-exact operations only
// (+ - * / sqrt, and a log written in those), so a seed gives bitwise the same parameters on every
// machine, with any standard library or thread count.
//
//   nnx::Array w = nnx::init::lecun_normal()(rngs.params(), {4, 32}, nnx::DType::float32);
//
// Semantics follow JAX: variance_scaling computes fan_in = shape[-2] * receptive field and
// fan_out = shape[-1] * receptive field; "truncated_normal" samples a normal truncated to [-2, 2]
// and divides by its standard deviation 0.87962566103423978 so the variance is `scale / fan`.
// The random numbers themselves are this library's (JAX's use XLA's erfinv; ours use a rejection
// sampler), so values match JAX in distribution, not bit for bit.
// Inside eval_shape every initializer returns an abstract Array without drawing anything.
#pragma once

#include <functional>

#include "nnx/array.hpp"
#include "nnx/portable_math.hpp"
#include "nnx/key.hpp"

namespace nnx {

using Initializer = std::function<Array(Key key, const Shape& shape, DType dtype)>;

namespace init {

enum class FanMode { fan_in, fan_out, fan_avg };
enum class Distribution { truncated_normal, normal, uniform };

Initializer zeros();
Initializer ones();
Initializer constant(double value);
Initializer normal(double stddev = 1e-2);
Initializer uniform(double scale = 1e-2);  // U[0, scale), as jax.nn.initializers.uniform
Initializer truncated_normal(double stddev = 1e-2, double lower = -2.0, double upper = 2.0);
Initializer variance_scaling(double scale, FanMode mode, Distribution distribution, int in_axis = -2,
                             int out_axis = -1);
Initializer lecun_normal();    // variance_scaling(1, fan_in, truncated_normal): Linear's kernel default
Initializer lecun_uniform();   // variance_scaling(1, fan_in, uniform)
Initializer he_normal();       // variance_scaling(2, fan_in, truncated_normal)
Initializer he_uniform();      // variance_scaling(2, fan_in, uniform)
Initializer glorot_normal();   // variance_scaling(1, fan_avg, truncated_normal)
Initializer glorot_uniform();  // variance_scaling(1, fan_avg, uniform)

// The sampling primitives, exposed for layers that draw at run time (dropout) and for tests.
// Each is a pure function of (key, index).
double uniform01(Key key, std::uint32_t index);           // [0, 1) with 53 random bits
double standard_normal(Key key, std::uint32_t index);     // N(0, 1)
double truncated_standard_normal(Key key, std::uint32_t index, double lower, double upper);

}  // namespace init

}  // namespace nnx
