// The AVX-512 path of the deterministic product (compiled with -mavx512f -mavx2 -mfma; called only
// on CPUs that have all three). 8 rows x 2 vectors of accumulators: 16 of the 32 zmm registers
// (6x4 and 12x2 were not distinguishable from it through this shared machine's noise).
#include <immintrin.h>

#include "kernel.hpp"

namespace nnx::detail::fma {
namespace {
NNX_FMA_X86_VECTOR(Avx512F32Ops, float, __m512, 16, _mm512, ps);
NNX_FMA_X86_VECTOR(Avx512F64, double, __m512d, 8, _mm512, pd);

// float also transposes a 16 x 16 tile in registers (pack_panel in kernel.hpp: a transposed B):
// row i of the tile (src + i * src_stride, 16 values) becomes column i of dst.
struct Avx512F32 : Avx512F32Ops {
  static void transpose_tile(const float* src, std::ptrdiff_t src_stride, float* dst, std::ptrdiff_t dst_stride) {
    __m512 r[16], t[16];
    for (int i = 0; i < 16; ++i) r[i] = _mm512_loadu_ps(src + i * src_stride);
    for (int i = 0; i < 8; ++i) {  // 32-bit elements of row pairs
      t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
      t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; ++i) {  // 64-bit pairs
      const __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 1]);
      const __m512d c = _mm512_castps_pd(t[4 * i + 2]), d = _mm512_castps_pd(t[4 * i + 3]);
      r[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
      r[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
      r[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
      r[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
    }
    for (int i = 0; i < 2; ++i)  // 128-bit lanes, then 256-bit halves
      for (int k = 0; k < 4; ++k) {
        t[8 * i + k] = _mm512_shuffle_f32x4(r[8 * i + k], r[8 * i + k + 4], 0x88);
        t[8 * i + k + 4] = _mm512_shuffle_f32x4(r[8 * i + k], r[8 * i + k + 4], 0xdd);
      }
    for (int k = 0; k < 8; ++k) {
      r[k] = _mm512_shuffle_f32x4(t[k], t[k + 8], 0x88);
      r[k + 8] = _mm512_shuffle_f32x4(t[k], t[k + 8], 0xdd);
    }
    for (int i = 0; i < 16; ++i) _mm512_storeu_ps(dst + i * dst_stride, r[i]);
  }
};
}  // namespace

const PathKernels avx512_kernels = kernels<Avx512F32, 8, 2, Avx512F64, 8, 2>();

}  // namespace nnx::detail::fma
