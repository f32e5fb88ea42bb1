// The AVX2+FMA path of the deterministic product (compiled with -mavx2 -mfma; called only on CPUs
// that have both). 4 rows x 3 vectors of float accumulators (12 of the 16 ymm registers: 4x3
// measured ~10% faster than 6x2 or 3x4 at 256x784x512), for float and double.
#include <immintrin.h>

#include "kernel.hpp"

namespace nnx::detail::fma {
namespace {
NNX_FMA_X86_VECTOR(Avx2F32, float, __m256, 8, _mm256, ps);
NNX_FMA_X86_VECTOR(Avx2F64, double, __m256d, 4, _mm256, pd);
}  // namespace

const PathKernels avx2_kernels = kernels<Avx2F32, 4, 3, Avx2F64, 4, 3>();

}  // namespace nnx::detail::fma
