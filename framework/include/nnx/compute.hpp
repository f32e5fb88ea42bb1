// nnx/compute.hpp — how nnx computes matrix products: threads and backend.
//
//   nnx::set_num_threads(2);                                  // or NNX_NUM_THREADS=2
//   nnx::set_matmul_backend(nnx::MatmulBackend::openblas);    // or NNX_MATMUL=openblas
//
// Threads: the default is NNX_NUM_THREADS, else 1 — a library embedded in a product should not
// take cores it was not given. Work is split by output rows, never inside a sum, so 1 and 2
// threads give the same bits.
//
// Backends (every other operation is nnx's own, fixed-order code):
//  * portable (default): Eigen's GEMM compiled for baseline x86-64 (SSE2, no FMA) with pinned
//    blocking — bitwise the same results on every x86-64 machine.
//  * openblas: OpenBLAS (runtime-dispatched AVX2 / AVX-512 kernels) — 2-3x faster when products
//    dominate. Bitwise reproducible run after run on one machine with a fixed thread count only:
//    another CPU may pick another kernel, and (measured) 1 and 2 threads round differently.
//    Available when nnx was built with OpenBLAS (openblas_available()).
#pragma once

namespace nnx {

void set_num_threads(int threads);  // >= 1
int num_threads();

enum class MatmulBackend { portable, openblas };
void set_matmul_backend(MatmulBackend backend);  // throws nnx::Error if openblas is not available
MatmulBackend matmul_backend();
bool openblas_available();

}  // namespace nnx
