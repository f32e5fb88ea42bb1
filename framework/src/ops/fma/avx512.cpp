// The AVX-512 path of the deterministic product (compiled with -mavx512f -mavx2 -mfma; called only
// on CPUs that have all three). 8 rows x 2 vectors of accumulators: 16 of the 32 zmm registers
// (6x4 and 12x2 were not distinguishable from it through this shared machine's noise).
#include <immintrin.h>

#include "kernel.hpp"

namespace nnx::detail::fma {
namespace {
NNX_FMA_X86_VECTOR(Avx512F32, float, __m512, 16, _mm512, ps);
NNX_FMA_X86_VECTOR(Avx512F64, double, __m512d, 8, _mm512, pd);
}  // namespace

const PathKernels avx512_kernels = kernels<Avx512F32, 8, 2, Avx512F64, 8, 2>();

}  // namespace nnx::detail::fma
