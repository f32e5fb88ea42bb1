// Matrix products and transposes, with gradients. Products run on the backend of nnx/compute.hpp:
// the deterministic FMA GEMM (fma/gemm.hpp), Eigen's GEMM or OpenBLAS. Eigen's products are split
// by output rows across threads, and its blocking is pinned (fixed cache sizes) so every machine
// sums in the same order: determinism does not depend on the CPU's cache sizes.
#include <omp.h>
#ifdef NNX_HAVE_OPENBLAS
#include <cblas.h>
#endif

#include <atomic>
#include <cstdlib>
#include <numeric>
#include <string_view>
#include <algorithm>

#include "kernels.hpp"
#include "fma/gemm.hpp"
#include "../eigen.hpp"
#include "nnx/ops.hpp"
#include "nnx/compute.hpp"

namespace nnx {

using detail::Grads;
using detail::Node;

namespace {
std::atomic<int> g_threads{[] {
  const char* env = std::getenv("NNX_NUM_THREADS");
  const int n = env ? std::atoi(env) : 1;
  return n >= 1 ? n : 1;
}()};

std::atomic<MatmulBackend> g_backend{[] {
  const char* env = std::getenv("NNX_MATMUL");
  if (env && std::string_view(env) == "portable") return MatmulBackend::portable;
#ifdef NNX_HAVE_OPENBLAS
  if (env && std::string_view(env) == "openblas") return MatmulBackend::openblas;
#endif
  return MatmulBackend::deterministic;
}()};

#ifdef NNX_HAVE_OPENBLAS
// C = op(A) op(B) by OpenBLAS, row-major. Its threads split C, never a sum.
void blas_gemm(bool ta, bool tb, const float* a, const float* b, float* c, int m, int n, int k) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, 1.0f, a, ta ? m : k, b,
              tb ? k : n, 0.0f, c, n);
}
void blas_gemm(bool ta, bool tb, const double* a, const double* b, double* c, int m, int n, int k) {
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, 1.0, a, ta ? m : k, b,
              tb ? k : n, 0.0, c, n);
}
void blas_threads(int threads) {
  static thread_local int current = -1;
  if (current != threads) openblas_set_num_threads(threads);
  current = threads;
}
#endif

void pin_eigen_blocking() {
  static const bool pinned = [] {
    Eigen::setCpuCacheSizes(32 * 1024, 1024 * 1024, 8 * 1024 * 1024);
    return true;
  }();
  (void)pinned;
}

// Below this many multiply-adds a second thread costs more than it saves.
constexpr double kParallelWork = 1 << 18;

// C (m x n) = op(A) * op(B); op transposes when asked. Row-major buffers.
template <class T>
void gemm(bool trans_a, bool trans_b, const T* a, const T* b, T* c, Eigen::Index m, Eigen::Index n, Eigen::Index k) {
  const MatmulBackend backend = g_backend.load(std::memory_order_relaxed);
  if (backend == MatmulBackend::deterministic)
    return detail::fma::gemm<T>(trans_a, trans_b, a, b, c, m, n, k, g_threads.load(std::memory_order_relaxed));
#ifdef NNX_HAVE_OPENBLAS
  if (backend == MatmulBackend::openblas && m > 0 && n > 0 && k > 0 &&
      std::max({m, n, k}) < (Eigen::Index{1} << 31)) {
    blas_threads(g_threads.load(std::memory_order_relaxed));
    blas_gemm(trans_a, trans_b, a, b, c, static_cast<int>(m), static_cast<int>(n), static_cast<int>(k));
    return;
  }
#endif
  pin_eigen_blocking();
  using Map = eigen::ConstMatrixMap<T>;
  eigen::MatrixMap<T> C(c, m, n);
  auto run = [&](Eigen::Index r0, Eigen::Index rows) {
    if (!trans_a && !trans_b)
      C.middleRows(r0, rows).noalias() = Map(a, m, k).middleRows(r0, rows) * Map(b, k, n);
    else if (trans_a && !trans_b)
      C.middleRows(r0, rows).noalias() = Map(a, k, m).transpose().middleRows(r0, rows) * Map(b, k, n);
    else if (!trans_a && trans_b)
      C.middleRows(r0, rows).noalias() = Map(a, m, k).middleRows(r0, rows) * Map(b, n, k).transpose();
    else
      C.middleRows(r0, rows).noalias() = Map(a, k, m).transpose().middleRows(r0, rows) * Map(b, n, k).transpose();
  };
  const int threads = g_threads.load(std::memory_order_relaxed);
  const double work = static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  if (threads <= 1 || work < kParallelWork || m < 2 * 16) {
    run(0, m);
    return;
  }
  // Chunks of whole rows, a multiple of 16 so Eigen's kernels see the same panels at any split.
  const int parts = threads;
  const Eigen::Index chunk = ((m + parts - 1) / parts + 15) / 16 * 16;
#pragma omp parallel for num_threads(parts) schedule(static)
  for (int p = 0; p < parts; ++p) {
    const Eigen::Index r0 = p * chunk;
    if (r0 < m) run(r0, std::min(chunk, m - r0));
  }
}

}  // namespace

namespace detail {
template <class T> Array matmul_impl(const Array& a, const Array& b, bool trans_a, bool trans_b, Shape out_shape) {
  Array out = Array::empty(std::move(out_shape), a.dtype());
  const Eigen::Index m = eigen::rows_of(out), n = eigen::cols_of(out);
  const Eigen::Index k = trans_a ? eigen::rows_of(a) : eigen::cols_of(a);
  gemm<T>(trans_a, trans_b, a.data<T>(), b.data<T>(), out.mutable_data<T>(), m, n, k);
  return out;
}
template Array matmul_impl<float>(const Array&, const Array&, bool, bool, Shape);
template Array matmul_impl<double>(const Array&, const Array&, bool, bool, Shape);
}  // namespace detail
using detail::matmul_impl;

void set_num_threads(int threads) {
  if (threads < 1) throw Error("set_num_threads: expected a thread count >= 1, got " + std::to_string(threads));
  g_threads = threads;
}
int num_threads() { return g_threads.load(); }

bool openblas_available() {
#ifdef NNX_HAVE_OPENBLAS
  return true;
#else
  return false;
#endif
}

void set_matmul_backend(MatmulBackend backend) {
  if (backend == MatmulBackend::openblas && !openblas_available())
    throw Error("set_matmul_backend: this build of nnx has no OpenBLAS (install libopenblas-openmp-dev and rebuild); "
                "the " + std::string(matmul_backend_name(matmul_backend())) + " backend stays in use");
  g_backend = backend;
}

MatmulBackend matmul_backend() { return g_backend.load(); }

const char* matmul_backend_name(MatmulBackend backend) {
  switch (backend) {
    case MatmulBackend::deterministic: return "deterministic";
    case MatmulBackend::portable: return "portable";
    case MatmulBackend::openblas: return "openblas";
  }
  return "?";
}

Array matmul(const Array& a, const Array& b) {
  detail::check_same_dtype("matmul", a, b);
  if (a.ndim() < 1 || b.ndim() != 2 || a.dim(-1) != b.dim(0))
    throw Error("matmul: cannot multiply " + a.shape_dtype().str() + " by " + b.shape_dtype().str() +
                "; expected (..., k) x (k, n)");
  Shape shape = a.shape();
  shape.back() = b.dim(1);
  if (a.is_abstract() || b.is_abstract()) return Array::abstract(shape, a.dtype());
  Array out = detail::floating("matmul", a, [&](auto t) { return matmul_impl<decltype(t)>(a, b, false, false, shape); });
  detail::record(out, "matmul", {a, b}, {.arrays = {a, b}}, [](const Array& g, const Node& n, Grads& d) {
    const Array &a = n.saved[0], &b = n.saved[1];
    detail::floating("matmul backward", g, [&](auto t) {
      using T = decltype(t);
      if (d.wanted(0)) d[0] = matmul_impl<T>(g, b, false, true, a.shape());  // g . b^T
      if (d.wanted(1))                                                        // a^T . g, batch axes flattened
        d[1] = matmul_impl<T>(a.reshape({eigen::rows_of(a), a.dim(-1)}), g.reshape({eigen::rows_of(g), g.dim(-1)}),
                              true, false, b.shape());
    });
  });
  return out;
}

Array transpose(const Array& a, std::vector<int> axes) {
  const int rank = a.ndim();
  if (axes.empty()) {
    axes.resize(static_cast<std::size_t>(rank));
    std::iota(axes.rbegin(), axes.rend(), 0);
  }
  if (static_cast<int>(axes.size()) != rank)
    throw Error("transpose: expected " + std::to_string(rank) + " axes for " + a.shape_dtype().str() + ", got " +
                std::to_string(axes.size()));
  std::vector<bool> seen(static_cast<std::size_t>(rank), false);
  Shape out_shape;
  for (int& ax : axes) {
    ax = detail::normalize_axis("transpose", ax, rank);
    if (seen[static_cast<std::size_t>(ax)]) throw Error("transpose: axis " + std::to_string(ax) + " repeated");
    seen[static_cast<std::size_t>(ax)] = true;
    out_shape.push_back(a.shape()[static_cast<std::size_t>(ax)]);
  }
  if (a.is_abstract()) return Array::abstract(out_shape, a.dtype());
  Array out = Array::empty(out_shape, a.dtype());
  detail::floating("transpose", a, [&](auto t) {
    using T = decltype(t);
    if (rank == 2 && axes[0] == 1) {
      eigen::mutable_matrix<T>(out) = eigen::matrix<T>(a).transpose();
      return;
    }
    std::int64_t in_strides[Shape::max_rank];
    std::int64_t s = 1;
    for (int d = rank - 1; d >= 0; --d) {
      in_strides[d] = s;
      s *= a.shape()[static_cast<std::size_t>(d)];
    }
    const T* src = a.data<T>();
    T* dst = out.mutable_data<T>();
    std::int64_t index[Shape::max_rank] = {};
    for (std::int64_t i = 0; i < out.numel(); ++i) {
      std::int64_t off = 0;
      for (int d = 0; d < rank; ++d) off += index[d] * in_strides[axes[static_cast<std::size_t>(d)]];
      dst[i] = src[off];
      for (int d = rank - 1; d >= 0; --d) {
        if (++index[d] < out_shape[static_cast<std::size_t>(d)]) break;
        index[d] = 0;
      }
    }
  });
  detail::Saved saved;  // num: the inverse permutation
  for (std::size_t i = 0; i < axes.size(); ++i) saved.num[static_cast<std::size_t>(axes[i])] = static_cast<double>(i);
  detail::record(out, "transpose", {a}, saved, [](const Array& g, const Node& n, Grads& d) {
    d[0] = transpose(g, std::vector<int>(n.num.begin(), n.num.begin() + g.ndim()));
  });
  return out;
}

}  // namespace nnx
