#include "nnx/init.hpp"

#include <cmath>
#include <limits>

#include "nnx/error.hpp"
#include "nnx/portable_math.hpp"

namespace nnx {


namespace init {

namespace {
constexpr double kTwoPow32 = 4294967296.0;

// A uniform in (-1, 1) from 32 bits, never 0 or +-1 exactly.
double symmetric_uniform(std::uint32_t bits) { return (bits + 0.5) / kTwoPow32 * 2.0 - 1.0; }

// Marsaglia's polar method, addressing attempts by counter. Returns N(0, 1); `attempt` advances.
double polar_normal(Key key, std::uint32_t index, std::uint32_t& attempt) {
  for (;; ++attempt) {
    if (attempt == std::numeric_limits<std::uint32_t>::max())
      throw Error("normal sampler: no sample accepted after 2^32 attempts (is the interval empty?)");
    auto w = threefry2x32(key, {index, attempt});
    double u = symmetric_uniform(w[0]), v = symmetric_uniform(w[1]);
    double s = u * u + v * v;
    if (s >= 1.0 || s == 0.0) continue;
    ++attempt;
    return u * std::sqrt(-2.0 * portable::log(s) / s);
  }
}

void check_float_dtype(const char* who, DType dtype) {
  if (!dtype_is_floating(dtype))
    throw Error(std::string("initializer ") + who + ": expected a floating dtype (float32 or float64), got " +
                std::string(dtype_name(dtype)));
}

// Fills an Array element by element with sample(i) (a double), converting to dtype.
template <class Sample> Array fill_elements(const char* who, const Shape& shape, DType dtype, Sample&& sample) {
  check_float_dtype(who, dtype);
  Array a = Array::empty(shape, dtype);
  if (a.is_abstract()) return a;
  if (a.numel() > static_cast<std::int64_t>(std::numeric_limits<std::uint32_t>::max()))
    throw Error(std::string("initializer ") + who + ": " + a.shape_dtype().str() +
                " has more than 2^32-1 elements, more than one key can address");
  const auto n = static_cast<std::uint32_t>(a.numel());
  if (dtype == DType::float32) {
    float* p = a.mutable_data<float>();
    for (std::uint32_t i = 0; i < n; ++i) p[i] = static_cast<float>(sample(i));
  } else {
    double* p = a.mutable_data<double>();
    for (std::uint32_t i = 0; i < n; ++i) p[i] = sample(i);
  }
  return a;
}

struct Fans {
  double in, out;
};

Fans compute_fans(const Shape& shape, int in_axis, int out_axis) {
  const int n = static_cast<int>(shape.size());
  if (n == 0) return {1, 1};
  if (n == 1) return {static_cast<double>(shape[0]), static_cast<double>(shape[0])};
  const int ia = in_axis < 0 ? in_axis + n : in_axis, oa = out_axis < 0 ? out_axis + n : out_axis;
  if (ia < 0 || ia >= n || oa < 0 || oa >= n || ia == oa)
    throw Error("variance_scaling: in_axis " + std::to_string(in_axis) + " / out_axis " + std::to_string(out_axis) +
                " do not fit shape " + shape_string(shape));
  double receptive = 1;
  for (int i = 0; i < n; ++i)
    if (i != ia && i != oa) receptive *= static_cast<double>(shape[static_cast<std::size_t>(i)]);
  return {static_cast<double>(shape[static_cast<std::size_t>(ia)]) * receptive,
          static_cast<double>(shape[static_cast<std::size_t>(oa)]) * receptive};
}
}  // namespace

double uniform01(Key key, std::uint32_t index) {
  return static_cast<double>(random_bits(key, index) >> 11) * 0x1.0p-53;
}

double standard_normal(Key key, std::uint32_t index) {
  std::uint32_t attempt = 0;
  return polar_normal(key, index, attempt);
}

double truncated_standard_normal(Key key, std::uint32_t index, double lower, double upper) {
  if (!(lower < upper)) throw Error("truncated normal: lower bound must be below upper bound");
  std::uint32_t attempt = 0;
  for (;;) {
    double x = polar_normal(key, index, attempt);
    if (x >= lower && x <= upper) return x;
  }
}

Initializer zeros() {
  return [](Key, const Shape& shape, DType dtype) { return Array::zeros(shape, dtype); };
}
Initializer ones() {
  return [](Key, const Shape& shape, DType dtype) { return Array::ones(shape, dtype); };
}
Initializer constant(double value) {
  return [value](Key, const Shape& shape, DType dtype) { return Array::full(shape, dtype, value); };
}

Initializer normal(double stddev) {
  return [stddev](Key key, const Shape& shape, DType dtype) {
    return fill_elements("normal", shape, dtype, [&](std::uint32_t i) { return stddev * standard_normal(key, i); });
  };
}

Initializer uniform(double scale) {
  return [scale](Key key, const Shape& shape, DType dtype) {
    return fill_elements("uniform", shape, dtype, [&](std::uint32_t i) { return scale * uniform01(key, i); });
  };
}

Initializer truncated_normal(double stddev, double lower, double upper) {
  return [=](Key key, const Shape& shape, DType dtype) {
    return fill_elements("truncated_normal", shape, dtype,
                         [&](std::uint32_t i) { return stddev * truncated_standard_normal(key, i, lower, upper); });
  };
}

Initializer variance_scaling(double scale, FanMode mode, Distribution distribution, int in_axis, int out_axis) {
  if (!(scale > 0)) throw Error("variance_scaling: scale must be > 0, got " + std::to_string(scale));
  return [=](Key key, const Shape& shape, DType dtype) {
    Fans fans = compute_fans(shape, in_axis, out_axis);
    double fan = mode == FanMode::fan_in ? fans.in : mode == FanMode::fan_out ? fans.out : (fans.in + fans.out) / 2;
    if (!(fan > 0)) return fill_elements("variance_scaling", shape, dtype, [](std::uint32_t) { return 0.0; });
    const double variance = scale / fan;
    switch (distribution) {
      case Distribution::truncated_normal: {
        // The standard deviation of N(0,1) truncated to [-2, 2], as in JAX.
        const double stddev = std::sqrt(variance) / 0.87962566103423978;
        return fill_elements("variance_scaling", shape, dtype,
                             [&](std::uint32_t i) { return stddev * truncated_standard_normal(key, i, -2.0, 2.0); });
      }
      case Distribution::normal: {
        const double stddev = std::sqrt(variance);
        return fill_elements("variance_scaling", shape, dtype,
                             [&](std::uint32_t i) { return stddev * standard_normal(key, i); });
      }
      case Distribution::uniform: {
        const double limit = std::sqrt(3.0 * variance);
        return fill_elements("variance_scaling", shape, dtype,
                             [&](std::uint32_t i) { return limit * (2.0 * uniform01(key, i) - 1.0); });
      }
    }
    throw Error("variance_scaling: invalid distribution");
  };
}

Initializer lecun_normal() { return variance_scaling(1.0, FanMode::fan_in, Distribution::truncated_normal); }
Initializer lecun_uniform() { return variance_scaling(1.0, FanMode::fan_in, Distribution::uniform); }
Initializer he_normal() { return variance_scaling(2.0, FanMode::fan_in, Distribution::truncated_normal); }
Initializer he_uniform() { return variance_scaling(2.0, FanMode::fan_in, Distribution::uniform); }
Initializer glorot_normal() { return variance_scaling(1.0, FanMode::fan_avg, Distribution::truncated_normal); }
Initializer glorot_uniform() { return variance_scaling(1.0, FanMode::fan_avg, Distribution::uniform); }

}  // namespace init
}  // namespace nnx
