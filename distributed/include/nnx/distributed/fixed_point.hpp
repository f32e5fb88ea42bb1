// nnx/distributed/fixed_point.hpp — an exact, order-independent sum of floating-point tensors.
//
//   using namespace nnx::distributed::fixed_point;
//   int e = max_exponent(x, n, nonfinite);            // per rank; then MPI_MAX over ranks -> E
//   const int bits = scale_bits(shards);              // headroom for `shards` addends
//   accumulate(shard_gradient, n, E, bits, acc);      // acc[i] += round(g[i] * 2^(bits - E)), per shard
//   // ... MPI_Allreduce(acc, MPI_INT64_T, MPI_SUM): integers, so exact and order-independent ...
//   to_mean(acc, n, E, bits, shards, out);            // out[i] = acc[i] * 2^(E - bits) / shards
//
// Why the result does not depend on how the addends are grouped (which rank held which shard, the
// order MPI combined ranks in): every addend becomes an integer by a rounding that depends only on
// the addend and on E (the exponent of the largest |value| of that tensor over ALL shards, itself an
// exact MPI_MAX), and integer addition is associative and exact as long as it cannot overflow:
// |value| < 2^E, so each integer has magnitude <= 2^bits, and with bits = min(51, 62 - ceil(log2
// shards)) a sum of `shards` of them stays below 2^62 < 2^63. The conversion back is one
// deterministic function of the integer. Rounding is to nearest, ties to even (in double
// arithmetic, which is why bits <= 51; the FE_TONEAREST mode is checked).
// Precision: an element is kept to 2^(E - bits) absolute, i.e. 2^-51 relative to the tensor's
// largest element (up to 2048 shards) — far finer than float32's 2^-24 for every element within
// 2^-27 of the largest; smaller elements keep fewer bits (exact invariance, not exact sums).
// Non-finite values cannot be made integers: max_exponent reports them, and the caller must stop.
#pragma once

#include <cstddef>
#include <cstdint>

namespace nnx::distributed::fixed_point {

// The exponent of an all-zero tensor: below every real exponent, so MPI_MAX ignores it.
inline constexpr std::int64_t kZero = -100000;

// The exponent E with max|x| < 2^E (frexp's), or kZero when every element is 0; sets `nonfinite`
// when an element is NaN or infinite (the exponent of the finite ones is returned).
std::int64_t max_exponent(const float* x, std::size_t n, bool& nonfinite);
std::int64_t max_exponent(const double* x, std::size_t n, bool& nonfinite);
inline constexpr int kMaxBits = 51;  // integers up to 2^51: rounded exactly in double arithmetic
// min(51, 62 - ceil(log2(shards))); shards in [1, 2^20].
int scale_bits(std::int64_t shards);
// acc[i] += round_to_nearest_even(x[i] * 2^(bits - exponent)); x finite, |x| < 2^exponent, bits <= 51.
void accumulate(const float* x, std::size_t n, std::int64_t exponent, int bits, std::int64_t* acc);
void accumulate(const double* x, std::size_t n, std::int64_t exponent, int bits, std::int64_t* acc);
// The same for `count` arrays xs[0..count) at once (one pass over acc): the same integers.
void accumulate(const float* const* xs, std::size_t count, std::size_t n, std::int64_t exponent, int bits, std::int64_t* acc);
void accumulate(const double* const* xs, std::size_t count, std::size_t n, std::int64_t exponent, int bits, std::int64_t* acc);
// out[i] = acc[i] * (2^(exponent - bits) / shards) in double, then rounded to the output type: one
// fixed formula of the integer, so the same bits on every rank.
void to_mean(const std::int64_t* acc, std::size_t n, std::int64_t exponent, int bits, std::int64_t shards, float* out);
void to_mean(const std::int64_t* acc, std::size_t n, std::int64_t exponent, int bits, std::int64_t shards, double* out);

}  // namespace nnx::distributed::fixed_point
