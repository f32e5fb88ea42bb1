// The exact reduction's arithmetic. Every function here is integer or exact-IEEE arithmetic, so the
// CPU-specific clones (target_clones: AVX2 where the machine has it) give the same bits as the
// generic code: vector width changes speed, never results.
#include "nnx/distributed/fixed_point.hpp"

#include <algorithm>
#include <bit>
#include <cfenv>
#include <cmath>
#include <limits>
#include <string>

#include "nnx/error.hpp"

namespace nnx::distributed::fixed_point {

namespace {
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define NNX_VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define NNX_VECTOR_CLONES
#endif

// The largest sign-cleared bit pattern: for non-negative IEEE values the unsigned order of the
// bits is the numeric order, and NaN and infinities lie above every finite value.
NNX_VECTOR_CLONES std::uint32_t max_bits(const float* x, std::size_t n) {
  std::uint32_t max = 0;
  for (std::size_t i = 0; i < n; ++i) max = std::max(max, std::bit_cast<std::uint32_t>(x[i]) & 0x7fffffffu);
  return max;
}
NNX_VECTOR_CLONES std::uint64_t max_bits(const double* x, std::size_t n) {
  std::uint64_t max = 0;
  for (std::size_t i = 0; i < n; ++i) max = std::max(max, std::bit_cast<std::uint64_t>(x[i]) & 0x7fffffffffffffffu);
  return max;
}

template <class T, class U> std::int64_t max_exp(const T* x, std::size_t n, bool& nonfinite) {
  constexpr U inf_bits = std::bit_cast<U>(std::numeric_limits<T>::infinity());
  U max = max_bits(x, n);
  if (max >= inf_bits) {  // some element is NaN or infinite: the caller refuses the tensor
    nonfinite = true;
    max = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const U b = std::bit_cast<U>(std::fabs(x[i]));
      if (b < inf_bits) max = std::max(max, b);
    }
  }
  if (max == 0) return kZero;
  int e = 0;
  std::frexp(std::bit_cast<T>(max), &e);  // max = m * 2^e, 0.5 <= m < 1: max < 2^e
  return e;
}

void check_rounding() {
  if (std::fegetround() != FE_TONEAREST)
    throw Error("nnx::distributed: the floating-point rounding mode is not round-to-nearest (FE_TONEAREST); the exact "
                "reduction rounds with it, so every rank must use it: restore it with std::fesetround(FE_TONEAREST)");
}

// round_to_nearest_even(y) for |y| <= 2^51, in plain double arithmetic: adding 1.5 * 2^52 leaves a
// double whose ulp is 1, so the addition itself rounds y to an integer (ties to even), and the low
// bits of the sum's pattern are that integer. Exact, and it vectorises (llrint does not).
constexpr double kMagic = 6755399441055744.0;  // 1.5 * 2^52
inline std::int64_t round_even(double y) {
  return std::bit_cast<std::int64_t>(y + kMagic) - std::bit_cast<std::int64_t>(kMagic);
}

// x * 2^shift is exact while it stays a normal double, so it equals ldexp(x, shift); |shift| up to
// this keeps 2^shift and the products normal. Beyond (float64 tensors of tiny magnitude): ldexp.
constexpr int kExactScale = 960;

// All shards of one tensor in one pass over acc, a block at a time: acc's block stays in registers
// and cache while each shard's contiguous run is added (the inner loop vectorises).
template <class T> void accumulate_block(const T* const* xs, std::size_t count, std::size_t n, double scale, std::int64_t* acc) {
  constexpr std::size_t kBlock = 512;
  for (std::size_t at = 0; at < n; at += kBlock) {
    const std::size_t len = std::min(kBlock, n - at);
    std::int64_t* a = acc + at;
    for (std::size_t k = 0; k < count; ++k) {
      const T* x = xs[k] + at;
      for (std::size_t i = 0; i < len; ++i) a[i] += round_even(static_cast<double>(x[i]) * scale);
    }
  }
}
NNX_VECTOR_CLONES void accumulate_scaled(const float* const* xs, std::size_t count, std::size_t n, double scale, std::int64_t* acc) {
  accumulate_block(xs, count, n, scale, acc);
}
NNX_VECTOR_CLONES void accumulate_scaled(const double* const* xs, std::size_t count, std::size_t n, double scale, std::int64_t* acc) {
  accumulate_block(xs, count, n, scale, acc);
}

template <class T>
void accumulate_(const T* const* xs, std::size_t count, std::size_t n, std::int64_t exponent, int bits, std::int64_t* acc) {
  if (exponent == kZero) return;  // every element is 0
  check_rounding();
  const int shift = static_cast<int>(bits - exponent);
  if (shift > kExactScale || shift < -kExactScale) {
    for (std::size_t k = 0; k < count; ++k)
      for (std::size_t i = 0; i < n; ++i) acc[i] += round_even(std::ldexp(static_cast<double>(xs[k][i]), shift));
    return;
  }
  accumulate_scaled(xs, count, n, std::ldexp(1.0, shift), acc);
}

template <class T>
void to_mean_(const std::int64_t* acc, std::size_t n, std::int64_t exponent, int bits, std::int64_t shards, T* out) {
  if (exponent == kZero) {
    for (std::size_t i = 0; i < n; ++i) out[i] = 0;
    return;
  }
  const int shift = static_cast<int>(exponent - bits);
  const auto s = static_cast<double>(shards);
  if (shift > kExactScale || shift < -kExactScale) {
    for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<T>(std::ldexp(static_cast<double>(acc[i]), shift) / s);
    return;
  }
  const double scale = std::ldexp(1.0, shift) / s;  // one fixed formula: the same on every rank
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<T>(static_cast<double>(acc[i]) * scale);
}
}  // namespace

std::int64_t max_exponent(const float* x, std::size_t n, bool& nonfinite) { return max_exp<float, std::uint32_t>(x, n, nonfinite); }
std::int64_t max_exponent(const double* x, std::size_t n, bool& nonfinite) { return max_exp<double, std::uint64_t>(x, n, nonfinite); }

int scale_bits(std::int64_t shards) {
  if (shards < 1 || shards > (1 << 20))
    throw Error("fixed_point::scale_bits: shards must be in [1, 2^20], got " + std::to_string(shards));
  int log2 = 0;
  while ((std::int64_t{1} << log2) < shards) ++log2;
  return std::min(kMaxBits, 62 - log2);
}

void accumulate(const float* x, std::size_t n, std::int64_t e, int bits, std::int64_t* acc) { accumulate_(&x, 1, n, e, bits, acc); }
void accumulate(const double* x, std::size_t n, std::int64_t e, int bits, std::int64_t* acc) { accumulate_(&x, 1, n, e, bits, acc); }
void accumulate(const float* const* xs, std::size_t count, std::size_t n, std::int64_t e, int bits, std::int64_t* acc) {
  accumulate_(xs, count, n, e, bits, acc);
}
void accumulate(const double* const* xs, std::size_t count, std::size_t n, std::int64_t e, int bits, std::int64_t* acc) {
  accumulate_(xs, count, n, e, bits, acc);
}
void to_mean(const std::int64_t* acc, std::size_t n, std::int64_t e, int bits, std::int64_t shards, float* out) {
  to_mean_(acc, n, e, bits, shards, out);
}
void to_mean(const std::int64_t* acc, std::size_t n, std::int64_t e, int bits, std::int64_t shards, double* out) {
  to_mean_(acc, n, e, bits, shards, out);
}

}  // namespace nnx::distributed::fixed_point
