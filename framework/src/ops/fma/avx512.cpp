// The AVX-512 path of the deterministic product (compiled with -mavx512f; called only on CPUs
// that have it). 8 rows x 2 vectors of accumulators: 16 of the 32 zmm registers.
#include <immintrin.h>

#include "kernel.hpp"

namespace nnx::detail::fma {
namespace {
struct Avx512F32 {
  using T = float;
  using reg = __m512;
  static constexpr int lanes = 16;
  static reg zero() { return _mm512_setzero_ps(); }
  static reg load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, reg r) { _mm512_storeu_ps(p, r); }
  static reg broadcast(float x) { return _mm512_set1_ps(x); }
  static reg fma(reg a, reg b, reg acc) { return _mm512_fmadd_ps(a, b, acc); }
};
struct Avx512F64 {
  using T = double;
  using reg = __m512d;
  static constexpr int lanes = 8;
  static reg zero() { return _mm512_setzero_pd(); }
  static reg load(const double* p) { return _mm512_loadu_pd(p); }
  static void store(double* p, reg r) { _mm512_storeu_pd(p, r); }
  static reg broadcast(double x) { return _mm512_set1_pd(x); }
  static reg fma(reg a, reg b, reg acc) { return _mm512_fmadd_pd(a, b, acc); }
};
}  // namespace

const PathKernels avx512_kernels = kernels<Avx512F32, 8, 2, Avx512F64, 8, 2>();

}  // namespace nnx::detail::fma
