// GEMM throughput (GFLOP/s) of every matmul backend and FMA path, side by side.
//
//   build/bin/bench_gemm [M K N] [rounds] [seconds per measurement] [threads]
//
// Defaults: 256 784 512 (mnist's first layer at batch 256), 5 rounds, 0.3 s, 1 thread. Each round
// measures every variant once, in turn (interleaved, so drift hits them alike); the output is one
// line per variant: name, median GFLOP/s, min, max — then whether every deterministic path gave
// the same bits (they must: nnx/compute.hpp).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <nnx/nnx.hpp>

namespace {
struct Variant {
  std::string name;
  nnx::MatmulBackend backend;
  nnx::FmaPath path;
  std::vector<double> gflops;
  nnx::Array result;
};

void use(const Variant& v) {
  nnx::set_matmul_backend(v.backend);
  if (v.backend == nnx::MatmulBackend::deterministic) nnx::set_fma_path(v.path);
}
}  // namespace

int main(int argc, char** argv) {
  const std::int64_t m = argc > 3 ? std::atoll(argv[1]) : 256, k = argc > 3 ? std::atoll(argv[2]) : 784,
                     n = argc > 3 ? std::atoll(argv[3]) : 512;
  const int rounds = argc > 4 ? std::atoi(argv[4]) : 5;
  const double seconds = argc > 5 ? std::atof(argv[5]) : 0.3;
  const int threads = argc > 6 ? std::atoi(argv[6]) : 1;
  if (m < 1 || k < 1 || n < 1 || rounds < 1 || !(seconds > 0) || threads < 1) {
    std::fprintf(stderr, "usage: bench_gemm [M K N] [rounds >= 1] [seconds > 0] [threads >= 1]\n");
    return 2;
  }
  nnx::set_num_threads(threads);
  const nnx::Array a = nnx::init::normal(1.0)(nnx::key_from_seed(1), {m, k}, nnx::DType::float32);
  const nnx::Array b = nnx::init::normal(1.0)(nnx::key_from_seed(2), {k, n}, nnx::DType::float32);

  std::vector<Variant> variants;
  for (nnx::FmaPath p : {nnx::FmaPath::avx512, nnx::FmaPath::avx2, nnx::FmaPath::scalar})
    if (nnx::fma_path_available(p))
      variants.push_back({std::string("deterministic/") + nnx::fma_path_name(p), nnx::MatmulBackend::deterministic, p, {}, {}});
  variants.push_back({"portable (Eigen SSE2)", nnx::MatmulBackend::portable, nnx::FmaPath::scalar, {}, {}});
  if (nnx::openblas_available())
    variants.push_back({"openblas", nnx::MatmulBackend::openblas, nnx::FmaPath::scalar, {}, {}});

  using Clock = std::chrono::steady_clock;
  const double flop = 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  for (int r = 0; r < rounds; ++r)
    for (Variant& v : variants) {
      use(v);
      v.result = nnx::matmul(a, b);  // warm-up (and the packing buffer's allocation)
      std::int64_t reps = 0;
      const auto start = Clock::now();
      double elapsed = 0;
      while (elapsed < seconds || reps == 0) {
        nnx::Array c = nnx::matmul(a, b);
        ++reps;
        elapsed = std::chrono::duration<double>(Clock::now() - start).count();
      }
      v.gflops.push_back(flop * static_cast<double>(reps) / elapsed / 1e9);
    }

  std::printf("gemm %lldx%lldx%lld float32, %d thread(s), %d interleaved rounds: GFLOP/s median (min-max)\n",
              static_cast<long long>(m), static_cast<long long>(k), static_cast<long long>(n), threads, rounds);
  for (Variant& v : variants) {
    std::sort(v.gflops.begin(), v.gflops.end());
    std::printf("%-26s %8.1f (%.1f-%.1f)\n", v.name.c_str(), v.gflops[v.gflops.size() / 2], v.gflops.front(),
                v.gflops.back());
  }
  bool same = true;
  for (const Variant& v : variants)
    if (v.backend == nnx::MatmulBackend::deterministic)
      same = same && std::memcmp(v.result.data<float>(), variants[0].result.data<float>(),
                                 static_cast<std::size_t>(m * n) * sizeof(float)) == 0;
  std::printf("deterministic paths bitwise equal: %s\n", same ? "yes" : "NO");
  return same ? 0 : 1;
}
