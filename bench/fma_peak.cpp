// The machine's peak float32 FLOP/s: independent FMA chains held in registers, on each vector ISA
// the CPU has (chosen by cpuid at run time, as nnx's deterministic GEMM is), on T threads at once.
// The training benchmark divides its achieved GFLOP/s by this figure.
//
//   build/bin/bench_peak [threads] [rounds] [seconds per round]
//
// One line per ISA: name, median GFLOP/s (min-max) over the rounds, summed over the threads.
#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

namespace {
// More chains than FMA latency x FMA pipes (4 x 2 on Zen 4/5 and Skylake-X), few enough to stay
// in the 16 registers AVX2 has: every FMA issues without waiting for another.
constexpr int kChains = 12;
constexpr std::int64_t kIterations = 1 << 20;  // per call: a few milliseconds

// Each returns a sum of its chains so the compiler must compute them; FLOP per call is
// kIterations * kChains * lanes * 2.
__attribute__((target("avx512f"))) float chains_avx512() {
  __m512 acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = _mm512_set1_ps(1e-3f * static_cast<float>(c));
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (std::int64_t i = 0; i < kIterations; ++i)
    for (int c = 0; c < kChains; ++c) acc[c] = _mm512_fmadd_ps(acc[c], a, b);
  alignas(64) float lanes[16];
  for (int c = 1; c < kChains; ++c) acc[0] = _mm512_add_ps(acc[0], acc[c]);
  _mm512_store_ps(lanes, acc[0]);
  float s = 0;
  for (float x : lanes) s += x;
  return s;
}

__attribute__((target("avx2,fma"))) float chains_avx2() {
  __m256 acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = _mm256_set1_ps(1e-3f * static_cast<float>(c));
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (std::int64_t i = 0; i < kIterations; ++i)
    for (int c = 0; c < kChains; ++c) acc[c] = _mm256_fmadd_ps(acc[c], a, b);
  alignas(32) float lanes[8];
  for (int c = 1; c < kChains; ++c) acc[0] = _mm256_add_ps(acc[0], acc[c]);
  _mm256_store_ps(lanes, acc[0]);
  float s = 0;
  for (float x : lanes) s += x;
  return s;
}

// Not vectorised by the compiler: this line is the scalar unit's peak.
__attribute__((target("fma"), optimize("no-tree-vectorize", "no-tree-slp-vectorize"))) float chains_scalar() {
  float acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = 1e-3f * static_cast<float>(c);
  for (std::int64_t i = 0; i < kIterations; ++i)
    for (int c = 0; c < kChains; ++c) acc[c] = std::fma(acc[c], 0.999999f, 1e-7f);
  float s = 0;
  for (float x : acc) s += x;
  return s;
}

struct Isa {
  const char* name;
  bool available;
  float (*run)();
  int lanes;
};

// GFLOP/s of `threads` threads each calling `run` until `seconds` have passed.
double measure(const Isa& isa, int threads, double seconds) {
  using Clock = std::chrono::steady_clock;
  std::atomic<std::int64_t> calls{0};
  std::atomic<float> sink{0};
  const auto start = Clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&] {
      float s = 0;
      do {
        s += isa.run();
        calls.fetch_add(1);
      } while (std::chrono::duration<double>(Clock::now() - start).count() < seconds);
      sink.store(s);
    });
  for (auto& t : pool) t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  const double flop = static_cast<double>(calls.load()) * kIterations * kChains * isa.lanes * 2.0;
  return sink.load() == 12345.f ? 0 : flop / elapsed / 1e9;  // the test keeps `sink` alive
}
}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 1;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 3;
  const double seconds = argc > 3 ? std::atof(argv[3]) : 0.3;
  if (threads < 1 || rounds < 1 || !(seconds > 0)) {
    std::fprintf(stderr, "usage: bench_peak [threads >= 1] [rounds >= 1] [seconds > 0]\n");
    return 2;
  }
  __builtin_cpu_init();
  const Isa isas[] = {
      {"avx512", __builtin_cpu_supports("avx512f") != 0, chains_avx512, 16},
      {"avx2+fma", __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"), chains_avx2, 8},
      {"scalar fma", __builtin_cpu_supports("fma") != 0, chains_scalar, 1},
  };
  std::printf("peak float32 FMA throughput, %d thread(s), %d rounds: GFLOP/s median (min-max)\n", threads, rounds);
  for (const Isa& isa : isas) {
    if (!isa.available) continue;
    std::vector<double> g;
    for (int r = 0; r < rounds; ++r) g.push_back(measure(isa, threads, seconds));
    std::sort(g.begin(), g.end());
    std::printf("%-12s %8.1f (%.1f-%.1f)\n", isa.name, g[g.size() / 2], g.front(), g.back());
  }
  return 0;
}
