// The deterministic product's driver: which path runs (cpuid, NNX_FMA_PATH, set_fma_path) and the
// split across threads — by rows of C, or by column panels when there are too few rows; never
// inside a sum (gemm.hpp's contract). Each thread packs the panels of B it reads into its own
// buffer, so the threads never wait for one another inside a product.
#include "gemm.hpp"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "nnx/compute.hpp"
#include "nnx/error.hpp"

namespace nnx {

namespace {
constexpr FmaPath kPaths[] = {FmaPath::scalar, FmaPath::avx2, FmaPath::avx512};

FmaPath best_path() {
  for (auto p = std::size(kPaths); p-- > 0;)
    if (fma_path_available(kPaths[p])) return kPaths[p];
  return FmaPath::scalar;
}

std::atomic<FmaPath> g_path{[] {
  const char* env = std::getenv("NNX_FMA_PATH");
  if (!env || !*env) return best_path();
  for (FmaPath p : kPaths)
    if (std::string_view(env) == fma_path_name(p)) {
      if (fma_path_available(p)) return p;
      std::fprintf(stderr, "nnx: NNX_FMA_PATH=%s: this CPU (or build) lacks it; using %s\n", env,
                   fma_path_name(best_path()));
      return best_path();
    }
  std::fprintf(stderr, "nnx: NNX_FMA_PATH=%s is not scalar, avx2 or avx512; using %s\n", env, fma_path_name(best_path()));
  return best_path();
}()};
}  // namespace

const char* fma_path_name(FmaPath path) {
  switch (path) {
    case FmaPath::scalar: return "scalar";
    case FmaPath::avx2: return "avx2";
    case FmaPath::avx512: return "avx512";
  }
  return "?";
}

bool fma_path_available(FmaPath path) {
#if defined(__x86_64__)
  const bool fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  switch (path) {
    case FmaPath::scalar: return true;
    case FmaPath::avx2: return fma;
    case FmaPath::avx512: return fma && __builtin_cpu_supports("avx512f");
  }
  return false;
#else
  return path == FmaPath::scalar;
#endif
}

void set_fma_path(FmaPath path) {
  if (!fma_path_available(path))
    throw Error(std::string("set_fma_path: this CPU (or build) has no ") + fma_path_name(path) + " path; the " +
                fma_path_name(fma_path()) + " path stays in use");
  g_path = path;
}

FmaPath fma_path() { return g_path.load(); }

}  // namespace nnx

namespace nnx::detail::fma {

namespace {
const PathKernels& current_kernels() {
  switch (g_path.load(std::memory_order_relaxed)) {
#if defined(__x86_64__)
    case FmaPath::avx512: return avx512_kernels;
    case FmaPath::avx2: return avx2_kernels;
#endif
    default: return scalar_kernels;
  }
}
template <class T> const Kernel<T>& kernel_of(const PathKernels& k) {
  if constexpr (sizeof(T) == sizeof(float)) return k.f32;
  else return k.f64;
}

// Below this many multiply-adds a second thread costs more than it saves.
constexpr double kParallelWork = 1 << 18;

// Runs `job` (m x n of C) on `kernel`, split across threads by row blocks or column panels.
template <class T> void run_job(const Kernel<T>& kernel, Job<T> job, int threads) {
  const std::ptrdiff_t m = job.m, n = job.n, k = job.k;
  const std::ptrdiff_t panels = (n + kernel.nr - 1) / kernel.nr;
  const std::ptrdiff_t row_blocks = (m + kernel.mr - 1) / kernel.mr;
  const double work = static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  const int parts = threads <= 1 || work < kParallelWork || (row_blocks < 2 && panels < 2) ? 1 : threads;
  // One packed panel per thread, kept from call to call (it grows to the largest k x nr seen).
  static thread_local std::vector<T> buffer;
  const std::size_t panel_size = static_cast<std::size_t>(k * kernel.nr);
  if (buffer.size() < panel_size * static_cast<std::size_t>(parts)) buffer.resize(panel_size * static_cast<std::size_t>(parts));
  T* const panels_of_threads = buffer.data();  // (inside the parallel region, `buffer` would be each thread's own)
  job.panel = panels_of_threads;
  if (parts == 1) {
    kernel.run(job, 0, m, 0, panels);
    return;
  }
#pragma omp parallel num_threads(parts)
  {
    const std::ptrdiff_t t = omp_get_thread_num(), nt = omp_get_num_threads();
    Job<T> mine = job;
    mine.panel = panels_of_threads + static_cast<std::size_t>(t) * panel_size;
    if (row_blocks >= nt) {
      const std::ptrdiff_t r0 = row_blocks * t / nt * kernel.mr, r1 = row_blocks * (t + 1) / nt * kernel.mr;
      if (r0 < r1) kernel.run(mine, r0, std::min<std::ptrdiff_t>(r1, m), 0, panels);
    } else {
      const std::ptrdiff_t p0 = panels * t / nt, p1 = panels * (t + 1) / nt;
      if (p0 < p1) kernel.run(mine, 0, m, p0, p1);
    }
  }
}

// Register-block cells a rows x cols product occupies, padding included.
std::ptrdiff_t padded_cells(std::ptrdiff_t rows, std::ptrdiff_t cols, int mr, int nr) {
  return (rows + mr - 1) / mr * mr * ((cols + nr - 1) / nr * nr);
}
}  // namespace

template <class T>
void gemm(bool trans_a, bool trans_b, const T* a, const T* b, T* c, std::int64_t m, std::int64_t n, std::int64_t k,
          int threads) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    std::fill(c, c + m * n, T(0));
    return;
  }
  const Kernel<T>& kernel = kernel_of<T>(current_kernels());
  const Job<T> job{a, trans_a ? 1 : k, trans_a ? m : 1, b, trans_b ? 1 : n, trans_b ? k : 1, c, m, n, k, nullptr};
  // A narrow C (few columns, many rows: a layer with few outputs) wastes most vector lanes; its
  // transpose C^T = op(B)^T op(A)^T puts the rows in the lanes instead. The same bits: each
  // c[i,j] is still one FMA chain over k in increasing order, and fma(x, y, acc) = fma(y, x, acc).
  if (padded_cells(n, m, kernel.mr, kernel.nr) < padded_cells(m, n, kernel.mr, kernel.nr)) {
    static thread_local std::vector<T> transposed;
    transposed.resize(static_cast<std::size_t>(m * n));
    run_job(kernel, Job<T>{b, job.b_cs, job.b_rs, a, job.a_cs, job.a_rs, transposed.data(), n, m, k, nullptr}, threads);
    for (std::int64_t i = 0; i < m; ++i)
      for (std::int64_t j = 0; j < n; ++j) c[i * n + j] = transposed[static_cast<std::size_t>(j * m + i)];
    return;
  }
  run_job(kernel, job, threads);
}

template void gemm<float>(bool, bool, const float*, const float*, float*, std::int64_t, std::int64_t, std::int64_t, int);
template void gemm<double>(bool, bool, const double*, const double*, double*, std::int64_t, std::int64_t, std::int64_t,
                           int);

}  // namespace nnx::detail::fma
