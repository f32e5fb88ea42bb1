// Internal: the deterministic matrix product (MatmulBackend::deterministic, nnx/compute.hpp).
//
// Contract, for every output element, on every path (scalar, AVX2+FMA, AVX-512) and thread count:
//
//   c[i,j] = fma(a[i,K-1], b[K-1,j], ... fma(a[i,1], b[1,j], fma(a[i,0], b[0,j], +0)) ...)
//
// one IEEE fused multiply-add per k, in increasing k, starting from +0 (K = 0 gives +0). Vector
// lanes hold different j, register rows different i, threads different rows or column panels:
// nothing is ever split inside the sum, so the bits do not depend on the ISA or the thread count.
// Blocking over k stores the accumulators to C and loads them back, which changes no bit.
#pragma once

#include <cstddef>
#include <cstdint>

namespace nnx::detail::fma {

// One product's operands as the kernels see them: op(A)[i,k] = a[i*a_rs + k*a_cs] and
// op(B)[k,j] = b[k*b_rs + j*b_cs] (strides give the transposes).
template <class T> struct Job {
  const T* a;
  std::ptrdiff_t a_rs, a_cs;
  const T* b;
  std::ptrdiff_t b_rs, b_cs;
  T* c;  // m x n, row-major
  std::ptrdiff_t m, n, k;
  T* panel;  // the calling thread's own k x nr values: one column panel of op(B), packed
};

// What one path computes: rows [r0, r1) of C (r0 a multiple of mr) for column panels [p0, p1)
// (columns p*nr .. p*nr+nr-1), packing each panel into job.panel first.
template <class T> struct Kernel {
  int mr, nr;  // register block: rows x columns (nr = vectors x lanes)
  void (*run)(const Job<T>& job, std::ptrdiff_t r0, std::ptrdiff_t r1, std::ptrdiff_t p0, std::ptrdiff_t p1);
};
struct PathKernels {
  Kernel<float> f32;
  Kernel<double> f64;
};

// Each in its own translation unit, compiled for its instruction set (framework/CMakeLists.txt):
// the AVX ones may be called only after the CPU check in gemm.cpp.
extern const PathKernels scalar_kernels;
#if defined(__x86_64__)
extern const PathKernels avx2_kernels;
extern const PathKernels avx512_kernels;
#endif

// C (m x n, row-major) = op(A) * op(B) on the current FMA path, split across `threads`.
template <class T>
void gemm(bool trans_a, bool trans_b, const T* a, const T* b, T* c, std::int64_t m, std::int64_t n, std::int64_t k,
          int threads);

}  // namespace nnx::detail::fma
