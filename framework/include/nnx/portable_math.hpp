// nnx/portable_math.hpp — transcendental functions whose results depend only on IEEE arithmetic.
//
// The platform's libm may round differently from one version or machine to the next; these use
// only + - * / and exact bit manipulation (frexp, ldexp), evaluated in double, so the same input
// gives the same bits everywhere. nnx uses them for initializers, activations, losses, schedules
// and synthetic data; they are within a few ulp of double precision (tests check against libm).
#pragma once

#include <bit>
#include <cstdint>
#include <limits>

namespace nnx::portable {

double exp(double x);
double expm1(double x);   // exp(x) - 1, accurate near 0
double log(double x);     // x > 0 (throws nnx::Error otherwise)
double log1p(double x);   // log(1 + x), accurate near 0; x > -1
double tanh(double x);
double sigmoid(double x);  // 1 / (1 + exp(-x)), without overflow
double sin(double x);
double cos(double x);


// Single precision, for float hot paths (softmax cross-entropy): the same promise (only + - * and
// exact bit manipulation, each operation in float, no FMA), within 2 ulp of the true value. Inline
// and branch-light so loops over them vectorise without changing a bit: each element's result is
// the same sequence of IEEE operations in every lane. NaN in, NaN out.
namespace detail {
inline float pow2(std::int32_t k) {  // 2^k for k in [-126, 127], exactly
  return std::bit_cast<float>(static_cast<std::uint32_t>(k + 127) << 23);
}
}  // namespace detail

// e^x; 0 below -103.97 (subnormal results are computed), +inf from 88.73. Branch-free (selects),
// so a loop over it vectorises.
inline float expf(float x) {
  // Clamped (NaN to 0) so k is in range; the special cases are selected at the end.
  const float xc = x < -104.0f ? -104.0f : (x > 89.0f ? 89.0f : (x == x ? x : 0.0f));
  // x = k ln2 + r, |r| <= ln2/2; k rounded to nearest by the 1.5 * 2^23 trick (exact IEEE).
  const float k = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  const float r = (xc - k * 0.693359375f) - k * -2.12194440e-4f;  // ln2 in two parts: k * 0.693359375 is exact
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float e = (p * (r * r) + r) + 1.0f;
  // e * 2^k as e * 2^k1 * 2^k2 with k1 = k/2: the first product is exact, the second rounds once,
  // so subnormal results are right and normal ones equal e * 2^k.
  const auto ki = static_cast<std::int32_t>(k);
  const std::int32_t k1 = ki / 2;
  const float y = e * detail::pow2(k1) * detail::pow2(ki - k1);
  const float inf = std::numeric_limits<float>::infinity();
  return x != x ? x : (x < -103.97208f ? 0.0f : (x >= 88.72284f ? inf : y));
}

// Natural logarithm; -inf at 0, NaN below 0 and for NaN, +inf at +inf. Branch-free (selects).
inline float logf(float x) {
  constexpr float inf = std::numeric_limits<float>::infinity();
  const bool subnormal = x < 1.17549435e-38f;
  const float xs = subnormal ? x * 8388608.0f : x;  // normalise a subnormal first
  const auto bits = std::bit_cast<std::uint32_t>(xs);
  std::int32_t e = static_cast<std::int32_t>((bits >> 23) & 0xff) - 126 - (subnormal ? 23 : 0);
  float m = std::bit_cast<float>((bits & 0x007fffffu) | 0x3f000000u);  // xs = m 2^e, m in [0.5, 1)
  const bool low = m < 0.707106781186547524f;
  e = low ? e - 1 : e;
  m = low ? (m + m) - 1.0f : m - 1.0f;
  const float z = m * m;
  float p = 7.0376836292e-2f;
  p = p * m - 1.1514610310e-1f;
  p = p * m + 1.1676998740e-1f;
  p = p * m - 1.2420140846e-1f;
  p = p * m + 1.4249322787e-1f;
  p = p * m - 1.6668057665e-1f;
  p = p * m + 2.0000714765e-1f;
  p = p * m - 2.4999993993e-1f;
  p = p * m + 3.3333331174e-1f;
  const auto ef = static_cast<float>(e);
  float y = (m * z) * p;
  y = y + ef * -2.12194440e-4f;
  y = y - 0.5f * z;
  const float result = (m + y) + ef * 0.693359375f;
  return x == 0.0f ? -inf : (!(x > 0.0f) ? std::numeric_limits<float>::quiet_NaN() : (x == inf ? inf : result));
}

}  // namespace nnx::portable
