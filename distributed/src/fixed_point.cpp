#include "nnx/distributed/fixed_point.hpp"

#include <algorithm>
#include <bit>
#include <cfenv>
#include <limits>
#include <cmath>
#include <string>

#include "nnx/error.hpp"

namespace nnx::distributed::fixed_point {

namespace {
// The largest magnitude from the bit patterns: for non-negative IEEE values the unsigned order of
// the bits is the numeric order, and NaN and infinities lie above every finite value — one
// branch-free (vectorised) max over the sign-cleared bits.
template <class T, class U> std::int64_t max_exp(const T* x, std::size_t n, bool& nonfinite) {
  static_assert(sizeof(T) == sizeof(U));
  constexpr U sign = U{1} << (8 * sizeof(U) - 1);
  constexpr U inf_bits = std::bit_cast<U>(std::numeric_limits<T>::infinity());
  U max = 0;
  for (std::size_t i = 0; i < n; ++i) max = std::max(max, static_cast<U>(std::bit_cast<U>(x[i]) & ~sign));
  if (max >= inf_bits) {  // some element is NaN or infinite: the caller refuses the tensor
    nonfinite = true;
    U finite = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const U b = std::bit_cast<U>(x[i]) & ~sign;
      if (b < inf_bits) finite = std::max(finite, b);
    }
    max = finite;
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

// Multiplying by a power of two is exact while the result stays a normal double, so x * 2^shift
// equals ldexp(x, shift) there; beyond (float64 tensors of tiny magnitude) ldexp does it. llrint is
// compiled inline (-fno-math-errno on this file: one cvtsd2si, rounding to nearest even).
constexpr int kExactScale = 960;  // |shift| up to this: 2^shift and x * 2^shift stay normal

template <class T> void accumulate_(const T* x, std::size_t n, std::int64_t exponent, int bits, std::int64_t* acc) {
  if (exponent == kZero) return;  // every element is 0
  check_rounding();
  const int shift = static_cast<int>(bits - exponent);
  if (shift > kExactScale || shift < -kExactScale) {
    for (std::size_t i = 0; i < n; ++i) acc[i] += std::llrint(std::ldexp(static_cast<double>(x[i]), shift));
    return;
  }
  const double scale = std::ldexp(1.0, shift);
  for (std::size_t i = 0; i < n; ++i) acc[i] += std::llrint(static_cast<double>(x[i]) * scale);
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
  return 62 - log2;
}

void accumulate(const float* x, std::size_t n, std::int64_t e, int bits, std::int64_t* acc) { accumulate_(x, n, e, bits, acc); }
void accumulate(const double* x, std::size_t n, std::int64_t e, int bits, std::int64_t* acc) { accumulate_(x, n, e, bits, acc); }
void to_mean(const std::int64_t* acc, std::size_t n, std::int64_t e, int bits, std::int64_t shards, float* out) {
  to_mean_(acc, n, e, bits, shards, out);
}
void to_mean(const std::int64_t* acc, std::size_t n, std::int64_t e, int bits, std::int64_t shards, double* out) {
  to_mean_(acc, n, e, bits, shards, out);
}

}  // namespace nnx::distributed::fixed_point
