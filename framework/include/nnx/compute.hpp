// nnx/compute.hpp — how nnx computes matrix products: threads, backend and FMA path.
//
//   nnx::set_num_threads(2);                                  // or NNX_NUM_THREADS=2
//   nnx::set_matmul_backend(nnx::MatmulBackend::openblas);    // or NNX_MATMUL=openblas
//   nnx::set_fma_path(nnx::FmaPath::scalar);                  // or NNX_FMA_PATH=scalar
//
// Threads: the default is NNX_NUM_THREADS, else 1 — a library embedded in a product should not
// take cores it was not given. Work is split by output rows (or output columns), never inside a
// sum, so 1 and 2 threads give the same bits.
//
// Backends (every other operation is nnx's own, fixed-order code):
//  * deterministic (default): each output element is one chain of IEEE fused multiply-adds in
//    increasing k, starting from +0:  c[i,j] = fma(a[i,K-1], b[K-1,j], ... fma(a[i,0], b[0,j], +0)).
//    Vectorised across j and register-blocked across i only, so the bits are the same on every
//    machine, every FMA path and every thread count (docs/determinism.md). The forward product
//    and both backward products (g.b^T, a^T.g) follow the same contract.
//  * portable: Eigen's GEMM compiled for baseline x86-64 (SSE2, no FMA) with pinned blocking —
//    bitwise the same results on every x86-64 machine, but 3-5x slower; the default of nnx up to
//    0.1 (checkpoints trained with it continue on other bits under the new default).
//  * openblas: OpenBLAS (runtime-dispatched AVX2 / AVX-512 kernels). Bitwise reproducible run
//    after run on one machine with a fixed thread count only: another CPU may pick another
//    kernel, and (measured) 1 and 2 threads round differently. Available when nnx was built with
//    OpenBLAS (openblas_available()).
//
// FMA paths of the deterministic backend — the same bits, only the speed differs: scalar
// (std::fma; every machine), avx2 (AVX2+FMA, 8 floats a lane group) and avx512 (AVX-512F, 16).
// The default is the fastest this CPU has (cpuid at start-up); NNX_FMA_PATH names another one
// (a path the CPU lacks is refused with a line on stderr and the default kept).
#pragma once

namespace nnx {

void set_num_threads(int threads);  // >= 1
int num_threads();

enum class MatmulBackend { deterministic, portable, openblas };
void set_matmul_backend(MatmulBackend backend);  // throws nnx::Error if openblas is not available
MatmulBackend matmul_backend();
bool openblas_available();
const char* matmul_backend_name(MatmulBackend backend);  // "deterministic", "portable", "openblas"

enum class FmaPath { scalar, avx2, avx512 };
void set_fma_path(FmaPath path);  // throws nnx::Error if this CPU (or build) lacks the path
FmaPath fma_path();
bool fma_path_available(FmaPath path);
const char* fma_path_name(FmaPath path);  // "scalar", "avx2", "avx512"

}  // namespace nnx
