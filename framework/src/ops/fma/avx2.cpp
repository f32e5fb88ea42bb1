// The AVX2+FMA path of the deterministic product (compiled with -mavx2 -mfma; called only on CPUs
// that have both). 6 rows x 2 vectors of accumulators: 12 of the 16 ymm registers.
#include <immintrin.h>

#include "kernel.hpp"

namespace nnx::detail::fma {
namespace {
struct Avx2F32 {
  using T = float;
  using reg = __m256;
  static constexpr int lanes = 8;
  static reg zero() { return _mm256_setzero_ps(); }
  static reg load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, reg r) { _mm256_storeu_ps(p, r); }
  static reg broadcast(float x) { return _mm256_set1_ps(x); }
  static reg fma(reg a, reg b, reg acc) { return _mm256_fmadd_ps(a, b, acc); }
};
struct Avx2F64 {
  using T = double;
  using reg = __m256d;
  static constexpr int lanes = 4;
  static reg zero() { return _mm256_setzero_pd(); }
  static reg load(const double* p) { return _mm256_loadu_pd(p); }
  static void store(double* p, reg r) { _mm256_storeu_pd(p, r); }
  static reg broadcast(double x) { return _mm256_set1_pd(x); }
  static reg fma(reg a, reg b, reg acc) { return _mm256_fmadd_pd(a, b, acc); }
};
}  // namespace

const PathKernels avx2_kernels = kernels<Avx2F32, 6, 2, Avx2F64, 6, 2>();

}  // namespace nnx::detail::fma
