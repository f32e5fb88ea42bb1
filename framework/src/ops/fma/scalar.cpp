// The scalar path of the deterministic product: std::fma, one lane — what every machine without
// AVX2+FMA runs (baseline x86-64, where std::fma is glibc's correctly rounded fma; ARM64, where it
// is the fused instruction). Compiled with the library's ordinary flags.
#include <cmath>

#include "kernel.hpp"

namespace nnx::detail::fma {
namespace {
template <class F> struct Scalar {
  using T = F;
  using reg = F;
  static constexpr int lanes = 1;
  static reg zero() { return F(0); }
  static reg load(const F* p) { return *p; }
  static void store(F* p, reg r) { *p = r; }
  static reg broadcast(F x) { return x; }
  static reg fma(reg a, reg b, reg acc) { return std::fma(a, b, acc); }
};
}  // namespace

// 4 x 4 accumulators: each fma is a call on baseline x86-64, so wider blocks only spill.
const PathKernels scalar_kernels = kernels<Scalar<float>, 4, 4, Scalar<double>, 4, 4>();

}  // namespace nnx::detail::fma
