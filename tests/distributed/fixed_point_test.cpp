// The exact reduction's arithmetic (no MPI needed): integers that do not depend on grouping, the
// headroom for S addends, rounding ties to even, zeros and non-finite values.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <nnx/distributed/fixed_point.hpp>
#include <nnx/key.hpp>
#include <vector>

namespace fp = nnx::distributed::fixed_point;

namespace {
// Values spread over many magnitudes, from nnx's counter-based generator (no std:: distributions).
std::vector<float> shard_values(std::uint32_t shard, std::size_t n) {
  std::vector<float> v(n);
  const nnx::Key key = nnx::fold_in(nnx::key_from_seed(42), shard);
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t b = nnx::random_bits(key, static_cast<std::uint32_t>(i));
    const double unit = static_cast<double>(b >> 11) * 0x1p-53 - 0.5;     // [-0.5, 0.5)
    v[i] = static_cast<float>(std::ldexp(unit, static_cast<int>(b % 24) - 12));  // 2^-12 .. 2^11
  }
  return v;
}
}  // namespace

TEST_CASE("fixed point: scale_bits leaves headroom for S addends below 2^63") {
  CHECK(fp::scale_bits(1) == 51);  // integers up to 2^51: rounded exactly in double arithmetic
  CHECK(fp::scale_bits(2048) == 51);
  CHECK(fp::scale_bits(2049) == 50);
  CHECK(fp::scale_bits(1 << 20) == 42);
  CHECK_THROWS(fp::scale_bits(0));
  // 1000 addends of the largest magnitude allowed (just below 2^E), negative: no overflow, exact mean.
  const float x = -std::nextafter(4.0f, 0.0f);
  bool nonfinite = false;
  const std::int64_t e = fp::max_exponent(&x, 1, nonfinite);
  CHECK(e == 2);
  const int bits = fp::scale_bits(1000);
  std::int64_t acc = 0;
  for (int s = 0; s < 1000; ++s) fp::accumulate(&x, 1, e, bits, &acc);
  float mean = 0;
  fp::to_mean(&acc, 1, e, bits, 1000, &mean);
  CHECK(mean == x);
}

TEST_CASE("fixed point: the mean of 8 shards is the same bits for every grouping of the shards into ranks") {
  const std::size_t n = 4096;
  const int shards = 8, bits = fp::scale_bits(shards);
  std::vector<std::vector<float>> g;
  for (int s = 0; s < shards; ++s) g.push_back(shard_values(static_cast<std::uint32_t>(s), n));
  bool nonfinite = false;
  std::int64_t e = fp::kZero;
  for (const auto& v : g) e = std::max(e, fp::max_exponent(v.data(), n, nonfinite));
  CHECK_FALSE(nonfinite);
  // Groupings as 1, 2, 3 and 4 ranks would hold them; each rank's partial sum, then ranks added in reverse.
  const std::vector<std::vector<int>> splits = {{0, 8}, {0, 4, 8}, {0, 2, 5, 8}, {0, 2, 4, 6, 8}};
  std::vector<std::vector<float>> means;
  for (const auto& cut : splits) {
    std::vector<std::int64_t> total(n, 0);
    for (std::size_t r = cut.size() - 1; r-- > 0;) {
      std::vector<std::int64_t> part(n, 0);
      for (int s = cut[r]; s < cut[r + 1]; ++s) fp::accumulate(g[static_cast<std::size_t>(s)].data(), n, e, bits, part.data());
      for (std::size_t i = 0; i < n; ++i) total[i] += part[i];
    }
    std::vector<float> mean(n);
    fp::to_mean(total.data(), n, e, bits, shards, mean.data());
    means.push_back(mean);
  }
  for (const auto& m : means) CHECK(m == means[0]);
  // The interesting case happens: plain float sums of these shards in those groupings differ.
  std::size_t float_differs = 0;
  double worst = 0;
  for (std::size_t i = 0; i < n; ++i) {
    float a = 0, b = 0, c = 0, d = 0;
    for (int s = 0; s < 8; ++s) a += g[static_cast<std::size_t>(s)][i];
    for (int s = 4; s < 8; ++s) b += g[static_cast<std::size_t>(s)][i];
    for (int s = 0; s < 4; ++s) c += g[static_cast<std::size_t>(s)][i];
    d = c + b;
    float_differs += a != d;
    double exact = 0;
    for (int s = 0; s < 8; ++s) exact += g[static_cast<std::size_t>(s)][i];
    worst = std::max(worst, std::fabs(means[0][i] - exact / 8) / std::ldexp(1.0, static_cast<int>(e)));
  }
  CHECK(float_differs > 100);
  CHECK(worst <= 0x1p-24);  // within float32 rounding of the exact mean, relative to the tensor's largest
}

TEST_CASE("fixed point: one pass over several shards gives the integers of one pass per shard") {
  const std::size_t n = 1000;
  const auto a = shard_values(1, n), b = shard_values(2, n), c = shard_values(3, n);
  std::vector<std::int64_t> one(n, 0), each(n, 0);
  const float* xs[] = {a.data(), b.data(), c.data()};
  fp::accumulate(xs, 3, n, 12, 51, one.data());
  for (const float* x : xs) fp::accumulate(x, n, 12, 51, each.data());
  CHECK(one == each);
  CHECK(one[0] != 0);
}

TEST_CASE("fixed point: rounding is to nearest, ties to even") {
  const float x[] = {1.0f, 3.0f, -1.0f, -3.0f, 0.75f};
  std::int64_t acc[5] = {};
  fp::accumulate(x, 5, 2, 1, acc);  // x * 2^(1 - 2): 0.5, 1.5, -0.5, -1.5, 0.375
  CHECK(acc[0] == 0);
  CHECK(acc[1] == 2);
  CHECK(acc[2] == 0);
  CHECK(acc[3] == -2);
  CHECK(acc[4] == 0);
}

TEST_CASE("fixed point: an all-zero tensor, and non-finite values reported") {
  const std::vector<float> zeros(16, 0.0f);
  bool nonfinite = false;
  CHECK(fp::max_exponent(zeros.data(), zeros.size(), nonfinite) == fp::kZero);
  CHECK_FALSE(nonfinite);
  std::vector<std::int64_t> acc(16, 0);
  fp::accumulate(zeros.data(), 16, fp::kZero, 51, acc.data());
  std::vector<float> out(16, 1.0f);
  fp::to_mean(acc.data(), 16, fp::kZero, 51, 8, out.data());
  CHECK(out == zeros);
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    const float v[] = {1.0f, bad, 2.0f};
    nonfinite = false;
    CHECK(fp::max_exponent(v, 3, nonfinite) == 2);
    CHECK(nonfinite);
  }
}

TEST_CASE("fixed point: float64 tensors, including magnitudes that need the ldexp path (|shift| > 960)") {
  for (const double magnitude : {1.0, 1e-300, 1e300}) {
    std::vector<std::vector<double>> g;
    for (std::uint32_t s = 0; s < 4; ++s) {
      std::vector<double> v;
      for (float x : shard_values(s, 64)) v.push_back(static_cast<double>(x) * magnitude);
      g.push_back(v);
    }
    bool nonfinite = false;
    std::int64_t e = fp::kZero;
    for (const auto& v : g) e = std::max(e, fp::max_exponent(v.data(), v.size(), nonfinite));
    CHECK_FALSE(nonfinite);
    const int bits = fp::scale_bits(4);
    std::vector<std::int64_t> all(64, 0), halves(64, 0), half(64, 0);
    const double* xs[] = {g[0].data(), g[1].data(), g[2].data(), g[3].data()};
    fp::accumulate(xs, 4, 64, e, bits, all.data());
    fp::accumulate(xs, 2, 64, e, bits, halves.data());
    fp::accumulate(xs + 2, 2, 64, e, bits, half.data());
    for (std::size_t i = 0; i < 64; ++i) halves[i] += half[i];
    CHECK(all == halves);  // the grouping 2 + 2 gives the integers of 4 at once
    std::vector<double> mean(64);
    fp::to_mean(all.data(), 64, e, bits, 4, mean.data());
    double worst = 0;
    for (std::size_t i = 0; i < 64; ++i) {
      const double exact = (g[0][i] + g[1][i] + g[2][i] + g[3][i]) / 4;  // float32 values: exact in double
      worst = std::max(worst, std::fabs(mean[i] - exact) / std::ldexp(1.0, static_cast<int>(e)));
    }
    CHECK(worst <= 0x1p-50);
    CHECK(mean[0] != 0);
  }
}
