// The deterministic matmul backend (nnx/compute.hpp): every FMA path and thread count gives, for
// the forward product and both backward products, exactly the bits of one std::fma chain per
// output in increasing k from +0; and a training run ends with the same parameters on every path.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <nnx/models.hpp>

#include "fixtures.hpp"

using namespace framework_test;

namespace {

using nnx::Array;

// op(A) (m x k) . op(B) (k x n) as the contract states it: acc = fma(a[i,kk], b[kk,j], acc) for
// kk = 0 .. k-1, from +0. Transposed operands are read in their stored layout.
template <class T>
Array fma_chain_reference(const Array& a, bool trans_a, const Array& b, bool trans_b, std::int64_t m, std::int64_t n,
                          std::int64_t k, nnx::Shape shape) {
  std::vector<T> c(static_cast<std::size_t>(m * n));
  const T* pa = a.data<T>();
  const T* pb = b.data<T>();
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < n; ++j) {
      T acc = 0;
      for (std::int64_t kk = 0; kk < k; ++kk)
        acc = std::fma(trans_a ? pa[kk * m + i] : pa[i * k + kk], trans_b ? pb[j * k + kk] : pb[kk * n + j], acc);
      c[static_cast<std::size_t>(i * n + j)] = acc;
    }
  return Array::from_values<T>(std::move(shape), std::span<const T>(c));
}

// Seeded draws from nnx's counter-based generator (no std:: distribution: the same on every library).
struct Draws {
  nnx::Key key;
  std::uint32_t counter = 0;
  explicit Draws(std::uint64_t seed) : key(nnx::key_from_seed(seed)) {}
  double uniform(double lo, double hi) { return lo + (hi - lo) * nnx::init::uniform01(key, counter++); }
  std::int64_t integer(std::int64_t lo, std::int64_t hi) {  // in [lo, hi]
    return std::min(hi, lo + static_cast<std::int64_t>(uniform(0, static_cast<double>(hi - lo + 1))));
  }
};

// Values of all signs over 2^-10 .. 2^10, so that any other summation order changes bits.
template <class T> Array wide_values(nnx::Shape shape, Draws& gen) {
  std::vector<T> v(static_cast<std::size_t>(nnx::shape_numel(shape)));
  for (T& x : v) x = static_cast<T>(std::ldexp(gen.uniform(-1.0, 1.0), static_cast<int>(gen.integer(-10, 10))));
  return Array::from_values<T>(std::move(shape), std::span<const T>(v));
}

struct GemmOperands : nnx::Module {
  nnx::Param a, b;
  GemmOperands() = default;
  GemmOperands(Array x, Array y) : a(std::move(x)), b(std::move(y)) {}
  NNX_FIELDS(a, b)
};

struct GemmShape {
  std::int64_t batch, m, k, n;  // a: (batch, m, k) when batch > 1, else (m, k); b: (k, n)
};

std::vector<GemmShape> fma_test_shapes() {
  std::vector<GemmShape> s = {
      {1, 1, 1, 1},    {1, 1, 0, 1},     {1, 3, 0, 5},    {1, 7, 13, 5},    {1, 17, 33, 31}, {1, 8, 16, 32},
      {1, 9, 17, 33},  {1, 6, 1, 100},   {1, 3, 5000, 4}, {1, 2, 70000, 2}, {1, 70, 300, 40}, {1, 5, 400, 300},
      {1, 1, 2000, 200}, {1, 300, 1000, 1}, {2, 5, 7, 3},  {3, 40, 100, 70}, {2, 1, 1, 1},
  };
  Draws gen(14);
  for (int i = 0; i < 24; ++i) s.push_back({1 + i % 2, gen.integer(1, 70), gen.integer(0, 200), gen.integer(1, 70)});
  return s;
}

// For one shape and dtype: forward c = a.b, backward a.grad = g.b^T and b.grad = a^T.g (the loss
// is sum(c * g)), on every path at 1 and 2 threads, each equal bit for bit to the reference.
template <class T> void check_fma_gemm_shape(const GemmShape& s, std::uint64_t seed) {
  Draws gen(seed);
  const nnx::Shape a_shape = s.batch > 1 ? nnx::Shape{s.batch, s.m, s.k} : nnx::Shape{s.m, s.k};
  const nnx::Shape c_shape = s.batch > 1 ? nnx::Shape{s.batch, s.m, s.n} : nnx::Shape{s.m, s.n};
  GemmOperands ops(wide_values<T>(a_shape, gen), wide_values<T>({s.k, s.n}, gen));
  const Array g = wide_values<T>(c_shape, gen);
  const std::int64_t rows = s.batch * s.m;
  const Array c_ref = fma_chain_reference<T>(ops.a.value, false, ops.b.value, false, rows, s.n, s.k, c_shape);
  const Array da_ref = fma_chain_reference<T>(g, false, ops.b.value, true, rows, s.k, s.n, a_shape);
  const Array db_ref = fma_chain_reference<T>(ops.a.value, true, g, false, s.k, s.n, rows, {s.k, s.n});
  on_every_fma_setting([&] {
    auto [loss, c, grads] = nnx::value_and_grad(ops, [&](GemmOperands& o) {
      Array y = nnx::matmul(o.a.value, o.b.value);
      return std::pair{nnx::sum(nnx::mul(y, g)), y};
    });
    CHECK(same_bits(c, c_ref));
    CHECK(same_bits(grads.at("a").value, da_ref));
    CHECK(same_bits(grads.at("b").value, db_ref));
  });
}

// 200 SGD steps of a small MLP whose first layer is large enough to be split across 2 threads;
// returns FNV-1a 64 over the bytes of every parameter, in the State's order.
std::uint64_t fma_training_digest() {
  nnx::Rngs rngs(3);
  nnx::models::MLP model({.in = 40, .hidden = {128}, .out = 10}, rngs);
  nnx::Optimizer opt(model, nnx::optim::sgd(0.05));
  const Array x = nnx::init::normal(1.0)(nnx::key_from_seed(4), {64, 40}, nnx::DType::float32);
  std::vector<std::int32_t> labels(64);
  for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<std::int32_t>((i * 7) % 10);
  const Array y = Array::from_values<std::int32_t>({64}, std::span<const std::int32_t>(labels));
  for (int step = 0; step < 200; ++step)
    nnx::train_step(model, opt, [&](nnx::models::MLP& m) { return nnx::softmax_cross_entropy(m(x), y); });
  std::uint64_t h = 1469598103934665603ull;
  for (const auto& [path, var] : nnx::state(model)) {
    const auto* p = static_cast<const unsigned char*>(var.value.raw_data());
    for (std::size_t i = 0; i < var.value.nbytes(); ++i) h = (h ^ p[i]) * 1099511628211ull;
  }
  return h;
}

// The digest of fma_training_digest() under the deterministic backend: the same on every machine
// and path (a different value here means the arithmetic changed, not the machine: it last changed
// when softmax cross-entropy moved to float arithmetic, portable::expf / logf).
constexpr std::uint64_t kFmaTrainingDigest = 1071490844008289229ull;

}  // namespace

TEST_CASE("fma gemm: every path and thread count gives the reference FMA chain, forward and backward") {
  FmaSettingsGuard guard;
  nnx::set_matmul_backend(nnx::MatmulBackend::deterministic);
  const std::vector<GemmShape> shapes = fma_test_shapes();
  for (std::size_t i = 0; i < shapes.size(); ++i) {
    const GemmShape& s = shapes[i];
    CAPTURE(s.batch);
    CAPTURE(s.m);
    CAPTURE(s.k);
    CAPTURE(s.n);
    check_fma_gemm_shape<float>(s, 100 + i);
    check_fma_gemm_shape<double>(s, 200 + i);
  }
}

TEST_CASE("fma gemm: sums start from +0 and K = 0 gives +0") {
  FmaSettingsGuard guard;
  nnx::set_matmul_backend(nnx::MatmulBackend::deterministic);
  for (nnx::FmaPath path : fma_test_paths()) {
    const std::string path_name = nnx::fma_path_name(path);
      CAPTURE(path_name);
    nnx::set_fma_path(path);
    // (-1) * 0 is -0; -0 + (+0) is +0: the chain starts from +0, not from the first product.
    const Array c = nnx::matmul(Array::from_values<float>({1, 1}, {-1.0f}), Array::from_values<float>({1, 1}, {0.0f}));
    CHECK_FALSE(std::signbit(c.data<float>()[0]));
    const Array empty = nnx::matmul(Array::zeros({3, 0}, nnx::DType::float64), Array::zeros({0, 2}, nnx::DType::float64));
    for (int i = 0; i < 6; ++i) CHECK((empty.data<double>()[i] == 0 && !std::signbit(empty.data<double>()[i])));
    // One fused rounding per step: -1 + (1 + 2^-12)^2 keeps the 2^-24 an unfused product drops.
    const float e = std::ldexp(1.0f, -12);
    const Array q = nnx::matmul(Array::from_values<float>({1, 2}, {-1, 1 + e}), Array::from_values<float>({2, 1}, {1, 1 + e}));
    CHECK(q.data<float>()[0] == std::ldexp(1.0f, -11) + std::ldexp(1.0f, -24));
    const float unfused = (1 + e) * (1 + e);
    CHECK(q.data<float>()[0] != unfused - 1);
  }
}

TEST_CASE("fma path: a short training run ends with the same parameters on every path and thread count") {
  FmaSettingsGuard guard;
  nnx::set_matmul_backend(nnx::MatmulBackend::deterministic);
  // NNX_FMA_PATH, when ctest sets it (tests/CMakeLists.txt), has picked the start-up path.
  if (const char* env = std::getenv("NNX_FMA_PATH"))
    for (nnx::FmaPath p : fma_test_paths())
      if (std::string(env) == nnx::fma_path_name(p)) CHECK(std::string(nnx::fma_path_name(guard.path)) == env);
  nnx::set_num_threads(1);
  const std::uint64_t start_up = fma_training_digest();  // the path NNX_FMA_PATH or cpuid chose
  CHECK(start_up == kFmaTrainingDigest);
  if (!std::getenv("NNX_FMA_PATH"))  // (the runs that set it check their path only)
    on_every_fma_setting([] { CHECK(fma_training_digest() == kFmaTrainingDigest); });
}

TEST_CASE("fma path: names, availability, and a path the CPU lacks is refused") {
  FmaSettingsGuard guard;
  CHECK(std::string(nnx::fma_path_name(nnx::FmaPath::avx512)) == "avx512");
  CHECK(std::string(nnx::matmul_backend_name(nnx::MatmulBackend::deterministic)) == "deterministic");
  CHECK(nnx::fma_path_available(nnx::FmaPath::scalar));
  for (nnx::FmaPath p : {nnx::FmaPath::avx2, nnx::FmaPath::avx512})
    if (!nnx::fma_path_available(p)) CHECK_THROWS_AS(nnx::set_fma_path(p), nnx::Error);
  if (!std::getenv("NNX_FMA_PATH") && !std::getenv("NNX_MATMUL")) {
    CHECK(nnx::matmul_backend() == nnx::MatmulBackend::deterministic);  // the default
    const std::vector<nnx::FmaPath> paths = fma_test_paths();
    CHECK(nnx::fma_path() == paths.back());  // the fastest available
  }
}

TEST_CASE("matmul backends: portable and openblas stay selectable, portable keeps 1 and 2 threads bitwise equal") {
  FmaSettingsGuard guard;
  Draws gen(7);
  const Array a = wide_values<float>({70, 300}, gen), b = wide_values<float>({300, 40}, gen);
  nnx::set_matmul_backend(nnx::MatmulBackend::deterministic);
  const Array fused = nnx::matmul(a, b);
  const Array magnitude = nnx::matmul(nnx::abs(a), nnx::abs(b));  // sum of |a[i,k] b[k,j]|
  std::vector<nnx::MatmulBackend> others = {nnx::MatmulBackend::portable};
  if (nnx::openblas_available()) others.push_back(nnx::MatmulBackend::openblas);
  for (nnx::MatmulBackend backend : others) {
    const std::string name = nnx::matmul_backend_name(backend);
    CAPTURE(name);
    nnx::set_matmul_backend(backend);
    CHECK(nnx::matmul_backend() == backend);
    nnx::set_num_threads(1);
    const Array one = nnx::matmul(a, b);
    CHECK_FALSE(same_bits(one, fused));  // another order and rounding: other last bits somewhere
    const Array diff = nnx::sub(one, fused);
    int far = 0;  // but the same product: within K float roundings of the magnitude
    for (std::int64_t i = 0; i < diff.numel(); ++i)
      far += std::abs(diff.data<float>()[i]) > 300 * 0x1p-24f * magnitude.data<float>()[i];
    CHECK(far == 0);
    if (backend == nnx::MatmulBackend::portable) {
      nnx::set_num_threads(2);
      CHECK(same_bits(nnx::matmul(a, b), one));
    }
  }
}
