// Internal: the one micro-kernel of the deterministic product, written once over a vector type V
// and included by each path's translation unit (scalar.cpp, avx2.cpp, avx512.cpp) with V for its
// instruction set. Everything here has internal linkage: a TU compiled with -mavx512f must not
// hand the linker a weak copy of anything that another path could end up calling. For the same
// reason this header includes no standard library header that brings inline functions.
//
// V provides: T, reg, lanes, zero(), load(p), store(p, r), broadcast(x), fma(a, b, acc) —
// fma being one IEEE fused multiply-add per lane (the contract of gemm.hpp).
#pragma once

#include "gemm.hpp"

// V for an x86 vector type from its intrinsics' prefix and suffix: NNX_FMA_X86_VECTOR(Avx2F32,
// float, __m256, 8, _mm256, ps) wraps _mm256_loadu_ps, _mm256_fmadd_ps, ... (avx2.cpp, avx512.cpp).
#define NNX_FMA_X86_VECTOR(Name, Scalar, Reg, Lanes, Prefix, Suffix)                    \
  struct Name {                                                                         \
    using T = Scalar;                                                                   \
    using reg = Reg;                                                                    \
    static constexpr int lanes = Lanes;                                                 \
    static reg zero() { return Prefix##_setzero_##Suffix(); }                           \
    static reg load(const T* p) { return Prefix##_loadu_##Suffix(p); }                  \
    static void store(T* p, reg r) { Prefix##_storeu_##Suffix(p, r); }                  \
    static reg broadcast(T x) { return Prefix##_set1_##Suffix(x); }                     \
    static reg fma(reg a, reg b, reg acc) { return Prefix##_fmadd_##Suffix(a, b, acc); } \
  }

namespace nnx::detail::fma {
namespace {

// The block of c (rows x NV*lanes, row stride ldc) after k steps more of its FMA chains, over the
// panel b (k rows of NV*lanes values, b_stride apart). `resume`: the chains continue from c, else
// start from +0.
template <class V, int Rows, int NV>
inline void micro(const typename V::T* a, std::ptrdiff_t a_rs, std::ptrdiff_t a_cs, const typename V::T* b,
                  std::ptrdiff_t b_stride, std::ptrdiff_t k, typename V::T* c, std::ptrdiff_t ldc, bool resume) {
  constexpr int L = V::lanes;
  typename V::reg acc[Rows][NV];
#pragma GCC unroll 16
  for (int r = 0; r < Rows; ++r)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) acc[r][v] = resume ? V::load(c + r * ldc + v * L) : V::zero();
  for (std::ptrdiff_t kk = 0; kk < k; ++kk) {
    typename V::reg bv[NV];
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) bv[v] = V::load(b + kk * b_stride + v * L);
    const typename V::T* ak = a + kk * a_cs;
#pragma GCC unroll 16
    for (int r = 0; r < Rows; ++r) {
      const typename V::reg x = V::broadcast(ak[r * a_rs]);
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) acc[r][v] = V::fma(x, bv[v], acc[r][v]);
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < Rows; ++r)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) V::store(c + r * ldc + v * L, acc[r][v]);
}

// micro for a block of `rows` (1 .. Rows) and `cols` (1 .. NV*lanes) of C: a partial block goes
// through a local tile (its padded lanes compute on the zeros of the panel and are dropped).
template <class V, int Rows, int NV>
inline void block(const Job<typename V::T>& j, std::ptrdiff_t i, int rows, std::ptrdiff_t col0, int cols,
                  const typename V::T* b, std::ptrdiff_t b_stride, std::ptrdiff_t k0, std::ptrdiff_t kc) {
  using T = typename V::T;
  if constexpr (Rows > 1) {
    if (rows < Rows) return block<V, Rows - 1, NV>(j, i, rows, col0, cols, b, b_stride, k0, kc);
  }
  constexpr int NR = NV * V::lanes;
  const T* a = j.a + i * j.a_rs + k0 * j.a_cs;
  T* c = j.c + i * j.n + col0;
  if (cols == NR) return micro<V, Rows, NV>(a, j.a_rs, j.a_cs, b, b_stride, kc, c, j.n, k0 > 0);
  T tile[Rows * NR] = {};
  if (k0 > 0)
    for (int r = 0; r < Rows; ++r)
      for (int q = 0; q < cols; ++q) tile[r * NR + q] = c[r * j.n + q];
  micro<V, Rows, NV>(a, j.a_rs, j.a_cs, b, b_stride, kc, tile, NR, k0 > 0);
  for (int r = 0; r < Rows; ++r)
    for (int q = 0; q < cols; ++q) c[r * j.n + q] = tile[r * NR + q];
}

// Columns col0 .. col0+cols-1 of op(B) into j.panel: k rows of NR values, zeros past cols. A B
// stored transposed (b_rs = 1: each column contiguous) is a transpose; when V has a square
// register transpose (V::transpose_tile, lanes x lanes values) full panels go through it, lanes
// columns by lanes k at a time, instead of one strided load per value. A copy: no bit changes.
template <class V, int NR> void pack_panel(const Job<typename V::T>& j, std::ptrdiff_t col0, int cols) {
  using T = typename V::T;
  T* out = j.panel;
  std::ptrdiff_t k_done = 0;
  if constexpr (requires(const T* src, T* dst, std::ptrdiff_t stride) { V::transpose_tile(src, stride, dst, stride); }) {
    constexpr int L = V::lanes;
    if (j.b_rs == 1 && cols == NR) {
      k_done = j.k / L * L;
      for (int q0 = 0; q0 < NR; q0 += L)
        for (std::ptrdiff_t k0 = 0; k0 < k_done; k0 += L)
          V::transpose_tile(j.b + (col0 + q0) * j.b_cs + k0, j.b_cs, out + k0 * NR + q0, NR);
    }
  }
  for (std::ptrdiff_t kk = k_done; kk < j.k; ++kk) {
    T* row_out = out + kk * NR;
    const T* row = j.b + kk * j.b_rs + col0 * j.b_cs;
    for (int q = 0; q < cols; ++q) row_out[q] = row[q * j.b_cs];
    for (int q = cols; q < NR; ++q) row_out[q] = T(0);
  }
}

// Rows [r0, r1) x panels [p0, p1) of C. Each panel is packed once (L2-sized: k x NR), then k is
// taken in blocks of KC so a panel's block stays in L1 while the row blocks sweep it (KC changes
// no bit: see gemm.hpp). A full-width panel of a row-major B small enough to stay in cache is read
// in place: for small products packing cost more than the product.
template <class V, int MR, int NV>
void run(const Job<typename V::T>& j, std::ptrdiff_t r0, std::ptrdiff_t r1, std::ptrdiff_t p0, std::ptrdiff_t p1) {
  constexpr int NR = NV * V::lanes;
  constexpr std::ptrdiff_t KC = 256;
  constexpr std::ptrdiff_t kInPlaceValues = 16384;  // 64 KiB of float: B stays in L2 while read in place
  for (std::ptrdiff_t p = p0; p < p1; ++p) {
    const std::ptrdiff_t col0 = p * NR;
    const int cols = static_cast<int>(j.n - col0 < NR ? j.n - col0 : NR);
    const bool in_place = j.b_cs == 1 && cols == NR && j.k * j.b_rs <= kInPlaceValues;
    const typename V::T* panel = in_place ? j.b + col0 : j.panel;
    const std::ptrdiff_t stride = in_place ? j.b_rs : NR;
    if (!in_place) pack_panel<V, NR>(j, col0, cols);
    for (std::ptrdiff_t k0 = 0; k0 < j.k; k0 += KC) {
      const std::ptrdiff_t kc = j.k - k0 < KC ? j.k - k0 : KC;
      for (std::ptrdiff_t i = r0; i < r1; i += MR) {
        const int rows = static_cast<int>(r1 - i < MR ? r1 - i : MR);
        block<V, MR, NV>(j, i, rows, col0, cols, panel + k0 * stride, stride, k0, kc);
      }
    }
  }
}

template <class VF, int MRF, int NVF, class VD, int MRD, int NVD> constexpr PathKernels kernels() {
  return {{MRF, NVF * VF::lanes, &run<VF, MRF, NVF>}, {MRD, NVD * VD::lanes, &run<VD, MRD, NVD>}};
}

}  // namespace
}  // namespace nnx::detail::fma
