// Initializers: pinned bits (a platform or code change shows up here), the portable log,
// distribution statistics, dtype handling and abstract mode.
#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <nnx/nnx.hpp>
#include <string>
#include <vector>

namespace {

using nnx::Array;
using nnx::DType;
using nnx::Initializer;
namespace init = nnx::init;

struct Moments {
  double mean = 0, variance = 0, max_abs = 0, min = 0, max = 0;
};

template <class T> Moments moments_of(const Array& a) {
  const T* p = a.data<T>();
  const auto n = static_cast<double>(a.numel());
  Moments m;
  m.min = m.max = static_cast<double>(p[0]);
  double sum = 0;
  for (std::int64_t i = 0; i < a.numel(); ++i) {
    const double v = static_cast<double>(p[i]);
    sum += v;
    m.max_abs = std::max(m.max_abs, std::fabs(v));
    m.min = std::min(m.min, v);
    m.max = std::max(m.max, v);
  }
  m.mean = sum / n;
  double ss = 0;
  for (std::int64_t i = 0; i < a.numel(); ++i) ss += (static_cast<double>(p[i]) - m.mean) * (static_cast<double>(p[i]) - m.mean);
  m.variance = ss / n;
  return m;
}

constexpr double kTruncatedStd = 0.87962566103423978;  // stddev of N(0,1) truncated to [-2, 2]

}  // namespace

// The first six float32 values of init(key_from_seed(0), {4, 3}, float32), as bit patterns. They
// were produced by this library (built with -ffp-contract=off on x86-64 g++) and printed with %a;
// the design promises the same bits on every machine, compiler and standard library.
TEST_CASE("pinned float32 values of the initializers for key_from_seed(0), shape {4,3}") {
  struct Pinned {
    const char* name;
    Initializer init;
    std::uint32_t bits[6];
  };
  const Pinned pinned[] = {
      {"lecun_normal", init::lecun_normal(),  // -0x1.aa5c1p-1, -0x1.d4d7f2p-2, ...
       {0xbf552e08u, 0xbeea6bf9u, 0xbcabba2eu, 0xbedd331au, 0x3f3dd8d2u, 0xbdbc7b14u}},
      {"he_uniform", init::he_uniform(),  // -0x1.99107cp-3, -0x1.d0d466p-2, ...
       {0xbe4c883eu, 0xbee86a33u, 0xbe85fde9u, 0x3f0ad0a2u, 0x3ed9a7d2u, 0xbecc7f19u}},
      {"glorot_normal", init::glorot_normal(),  // -0x1.c7cc3p-1, -0x1.f536fep-2, ...
       {0xbf63e618u, 0xbefa9b7fu, 0xbcb7958cu, 0xbeec78ebu, 0x3f4af476u, 0xbdc97e92u}},
      {"normal(1.0)", init::normal(1.0),  // -0x1.77097p+0, -0x1.9c6824p-1, ...
       {0xbfbb84b8u, 0xbf4e3412u, 0xbd170e43u, 0xbf4292a7u, 0x3fa6fe87u, 0xbe25cae3u}},
      {"uniform(1.0)", init::uniform(1.0),  // 0x1.ac8006p-2, 0x1.423becp-2, ...
       {0x3ed64003u, 0x3ea11df6u, 0x3ec94c4eu, 0x3f38abc5u, 0x3f2c6dc3u, 0x3eac83c1u}},
      {"truncated_normal()", init::truncated_normal(),  // -0x1.e00c14p-7, -0x1.07f0bap-7, ...
       {0xbc70060au, 0xbc03f85du, 0xb9c159efu, 0xbbf90da3u, 0x3c55c0adu, 0xbad436e5u}},
  };
  for (const Pinned& p : pinned) {
    CAPTURE(p.name);
    const Array a = p.init(nnx::key_from_seed(0), {4, 3}, DType::float32);
    REQUIRE(a.shape_dtype() == nnx::ShapeDtype{{4, 3}, DType::float32});
    for (int i = 0; i < 6; ++i) {
      CAPTURE(i);
      CHECK(std::bit_cast<std::uint32_t>(a.data<float>()[i]) == p.bits[i]);
    }
  }
}

TEST_CASE("pinned float64 values of lecun_normal and normal(1.0)") {
  const std::uint64_t lecun[] = {0xbfeaa5c0fc9029aeull, 0xbfdd4d7f12ab15adull, 0xbf957745c519a91aull};
  const std::uint64_t normal[] = {0xbff77096f966d7cfull, 0xbfe9c6823ade961aull, 0xbfa2e1c8619d2cc4ull};
  const Array a = init::lecun_normal()(nnx::key_from_seed(0), {4, 3}, DType::float64);
  const Array b = init::normal(1.0)(nnx::key_from_seed(0), {4, 3}, DType::float64);
  for (int i = 0; i < 3; ++i) {
    CAPTURE(i);
    CHECK(std::bit_cast<std::uint64_t>(a.data<double>()[i]) == lecun[i]);
    CHECK(std::bit_cast<std::uint64_t>(b.data<double>()[i]) == normal[i]);
  }
  // The float32 result is the float64 sample rounded once.
  const Array f = init::lecun_normal()(nnx::key_from_seed(0), {4, 3}, DType::float32);
  for (int i = 0; i < 12; ++i) CHECK(f.data<float>()[i] == static_cast<float>(a.data<double>()[i]));
}

TEST_CASE("initializers are built from the exposed sampling primitives") {
  const nnx::Key key = nnx::key_from_seed(123);
  const Array ln = init::lecun_normal()(key, {8, 5}, DType::float64);
  const Array nr = init::normal(0.5)(key, {8, 5}, DType::float64);
  const Array un = init::uniform(2.0)(key, {8, 5}, DType::float64);
  const double lecun_std = std::sqrt(1.0 / 8) / kTruncatedStd;
  for (std::uint32_t i = 0; i < 40; ++i) {
    CAPTURE(i);
    CHECK(ln.data<double>()[i] == lecun_std * init::truncated_standard_normal(key, i, -2.0, 2.0));
    CHECK(nr.data<double>()[i] == 0.5 * init::standard_normal(key, i));
    CHECK(un.data<double>()[i] == 2.0 * init::uniform01(key, i));
  }
  CHECK(init::uniform01(key, 3) == static_cast<double>(nnx::random_bits(key, 3) >> 11) * 0x1.0p-53);
  CHECK_THROWS_AS(init::truncated_standard_normal(key, 0, 1.0, 1.0), nnx::Error);
}

TEST_CASE("portable::log agrees with std::log to 1e-15 relative and rejects x <= 0") {
  std::vector<double> xs = {std::numeric_limits<double>::denorm_min(), std::numeric_limits<double>::min(),
                            std::numeric_limits<double>::max(), 0.5, 2.0, 0.70710678118654752440, 1e-10, 1e10};
  for (double x = 1e-300; x < 1e300; x *= 1.0137) xs.push_back(x);
  for (int i = -20000; i <= 20000; ++i) xs.push_back(1.0 + i * 1e-6);
  for (int i = 1; i < 4000; ++i) xs.push_back(i * 0.00025);
  int bad = 0;
  for (double x : xs) {
    const double expected = std::log(x), got = nnx::portable::log(x);
    if (expected == 0 ? got != 0 : std::fabs(got - expected) > 1e-15 * std::fabs(expected)) {
      if (++bad <= 5) MESSAGE("x = " << x << ": portable " << got << " vs std " << expected);
    }
  }
  CHECK(xs.size() > 90000);
  CHECK(bad == 0);
  CHECK(nnx::portable::log(1.0) == 0.0);

  for (double x : {0.0, -0.0, -1.0, -1e-300, -std::numeric_limits<double>::infinity(),
                   std::numeric_limits<double>::quiet_NaN()}) {
    CAPTURE(x);
    CHECK_THROWS_WITH_AS(nnx::portable::log(x), doctest::Contains("> 0"), nnx::Error);
  }
  // +inf is in the domain (x > 0): log(+inf) = +inf, as libm.
  CHECK(nnx::portable::log(std::numeric_limits<double>::infinity()) == std::numeric_limits<double>::infinity());
}

TEST_CASE("lecun_normal / he_normal: variance scale/fan_in, truncated at 2 stddev") {
  struct Case {
    const char* name;
    Initializer init;
    double scale;
  };
  const Case cases[] = {{"lecun_normal", init::lecun_normal(), 1.0}, {"he_normal", init::he_normal(), 2.0}};
  for (const Case& c : cases) {
    CAPTURE(c.name);
    const Array a = c.init(nnx::key_from_seed(1), {1000, 200}, DType::float32);  // fan_in = 1000
    const Moments m = moments_of<float>(a);
    const double variance = c.scale / 1000;
    CHECK(m.variance == doctest::Approx(variance).epsilon(0.03));
    CHECK(std::fabs(m.mean) < 0.01 * std::sqrt(variance));
    const double bound = 2 * std::sqrt(variance) / kTruncatedStd;
    CHECK(m.max_abs <= bound * (1 + 1e-6));
    CHECK(m.max_abs > 0.95 * bound);  // the tails are really there
  }
}

TEST_CASE("uniform variance scaling: |x| <= sqrt(3 scale / fan), variance scale / fan") {
  struct Case {
    const char* name;
    Initializer init;
    double scale, fan;
  };
  // shape {500, 400}: fan_in 500, fan_out 400, fan_avg 450
  const Case cases[] = {{"lecun_uniform", init::lecun_uniform(), 1.0, 500},
                        {"he_uniform", init::he_uniform(), 2.0, 500},
                        {"glorot_uniform", init::glorot_uniform(), 1.0, 450},
                        {"variance_scaling fan_out", init::variance_scaling(3.0, init::FanMode::fan_out,
                                                                            init::Distribution::uniform), 3.0, 400}};
  for (const Case& c : cases) {
    CAPTURE(c.name);
    const Array a = c.init(nnx::key_from_seed(2), {500, 400}, DType::float32);
    const Moments m = moments_of<float>(a);
    const double limit = std::sqrt(3 * c.scale / c.fan);
    CHECK(m.max_abs <= static_cast<double>(static_cast<float>(limit)));
    CHECK(m.min < -0.999 * limit);
    CHECK(m.max > 0.999 * limit);
    CHECK(m.variance == doctest::Approx(c.scale / c.fan).epsilon(0.03));
  }
}

TEST_CASE("glorot_normal uses fan_avg, not fan_in or fan_out") {
  const Array a = init::glorot_normal()(nnx::key_from_seed(3), {200, 1000}, DType::float64);
  const Moments m = moments_of<double>(a);
  CHECK(m.variance == doctest::Approx(1.0 / 600).epsilon(0.03));  // fan_avg = (200 + 1000) / 2
  CHECK(m.max_abs <= 2 * std::sqrt(1.0 / 600) / kTruncatedStd);
  // fan_in would give 1/200, fan_out 1/1000: far outside the tolerance above.
}

TEST_CASE("normal, uniform and truncated_normal: raw distributions") {
  const nnx::Key key = nnx::key_from_seed(4);
  const Moments n = moments_of<double>(init::normal(2.0)(key, {200'000}, DType::float64));
  CHECK(std::fabs(n.mean) < 0.02);
  CHECK(n.variance == doctest::Approx(4.0).epsilon(0.03));
  CHECK(n.max_abs > 8.0);  // a plain normal is not truncated: 4 sigma happens in 200k draws

  const Moments u = moments_of<float>(init::uniform(3.0)(key, {200'000}, DType::float32));
  CHECK(u.min >= 0.0);
  CHECK(u.max < 3.0);
  CHECK(u.mean == doctest::Approx(1.5).epsilon(0.01));
  CHECK(u.variance == doctest::Approx(9.0 / 12).epsilon(0.03));

  const Moments t = moments_of<double>(init::truncated_normal(1.0)(key, {200'000}, DType::float64));
  CHECK(t.min >= -2.0);
  CHECK(t.max <= 2.0);
  CHECK(t.variance == doctest::Approx(kTruncatedStd * kTruncatedStd).epsilon(0.03));
  const Moments t2 = moments_of<double>(init::truncated_normal(1.0, -0.5, 1.0)(key, {100'000}, DType::float64));
  CHECK(t2.min >= -0.5);
  CHECK(t2.max <= 1.0);
  CHECK(t2.mean > 0.1);  // asymmetric bounds shift the mean
}

TEST_CASE_TEMPLATE("zeros / ones / constant fill integer dtypes", T, std::int32_t, std::int64_t, std::uint32_t) {
  const DType dtype = nnx::dtype_of<T>();
  const nnx::Key key = nnx::key_from_seed(0);
  const Array z = init::zeros()(key, {3, 2}, dtype);
  const Array o = init::ones()(key, {3, 2}, dtype);
  const Array c = init::constant(7.0)(key, {3, 2}, dtype);
  for (const Array* a : {&z, &o, &c}) CHECK(a->shape_dtype() == nnx::ShapeDtype{{3, 2}, dtype});
  for (int i = 0; i < 6; ++i) {
    CHECK(z.data<T>()[i] == T(0));
    CHECK(o.data<T>()[i] == T(1));
    CHECK(c.data<T>()[i] == T(7));
  }
}

TEST_CASE("random initializers reject integer dtypes, naming the initializer and 'floating'") {
  struct Case {
    Initializer init;
    const char* name;
  };
  // The variance-scaling family (lecun_*, he_*, glorot_*) reports as variance_scaling.
  const Case cases[] = {{init::normal(), "normal"},
                        {init::uniform(), "uniform"},
                        {init::truncated_normal(), "truncated_normal"},
                        {init::lecun_normal(), "variance_scaling"},
                        {init::he_uniform(), "variance_scaling"},
                        {init::glorot_normal(), "variance_scaling"}};
  for (const Case& c : cases) {
    for (DType dtype : {DType::int32, DType::int64, DType::uint32}) {
      CAPTURE(c.name);
      CAPTURE(dtype);
      try {
        c.init(nnx::key_from_seed(0), {3, 3}, dtype);
        FAIL("expected nnx::Error");
      } catch (const nnx::Error& e) {
        const std::string msg = e.what();
        CHECK(msg.find(std::string("initializer ") + c.name + ":") != std::string::npos);
        CHECK(msg.find("floating") != std::string::npos);
        CHECK(msg.find(std::string(nnx::dtype_name(dtype))) != std::string::npos);
      }
    }
  }
}

TEST_CASE("same key gives bitwise identical arrays, different keys differ") {
  const Initializer inits[] = {init::lecun_normal(), init::he_uniform(),        init::glorot_normal(),
                               init::normal(1.0),    init::uniform(1.0),        init::truncated_normal(),
                               init::lecun_uniform(), init::glorot_uniform(), init::he_normal()};
  for (std::size_t i = 0; i < std::size(inits); ++i) {
    CAPTURE(i);
    for (DType dtype : {DType::float32, DType::float64}) {
      const Array a = inits[i](nnx::key_from_seed(9), {16, 8}, dtype);
      const Array b = inits[i](nnx::key_from_seed(9), {16, 8}, dtype);
      const Array c = inits[i](nnx::key_from_seed(10), {16, 8}, dtype);
      const Array d = inits[i](nnx::Key{9, 0}, {16, 8}, dtype);  // the words of the key matter
      CHECK_FALSE(a.same_buffer(b));
      CHECK(nnx::array_equal(a, b));
      CHECK_FALSE(nnx::array_equal(a, c));
      CHECK_FALSE(nnx::array_equal(a, d));
    }
  }
}

TEST_CASE("inside AbstractScope initializers return abstract arrays") {
  const Initializer inits[] = {init::zeros(),      init::ones(),      init::constant(2.0), init::lecun_normal(),
                               init::he_uniform(), init::normal(1.0), init::uniform(1.0),  init::truncated_normal()};
  nnx::AbstractScope scope;
  for (std::size_t i = 0; i < std::size(inits); ++i) {
    CAPTURE(i);
    const Array a = inits[i](nnx::key_from_seed(0), {1'000'000, 1'000}, DType::float64);
    CHECK(a.is_abstract());
    CHECK(a.shape_dtype() == nnx::ShapeDtype{{1'000'000, 1'000}, DType::float64});
  }
}

// portable::expf / logf: every float in a seeded sample over their whole domain, against libm in
// double rounded to float; within 2 ulp, and the IEEE special cases.
TEST_CASE("portable::expf and logf agree with libm to 2 ulp over their domain, with IEEE special cases") {
  auto ulps = [](float got, double exact) {
    const auto want = static_cast<float>(exact);
    if (got == want) return 0.0;
    const float ulp = std::nextafter(std::fabs(want), std::numeric_limits<float>::infinity()) - std::fabs(want);
    return std::fabs(static_cast<double>(got) - exact) / ulp;
  };
  std::uint64_t state = 0x9e3779b97f4a7c15ull;  // splitmix64: a fixed sample, the same every run
  auto next_bits = [&] {
    state += 0x9e3779b97f4a7c15ull;
    std::uint64_t z = state;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return static_cast<std::uint32_t>(z ^ (z >> 31));
  };
  double worst_exp = 0, worst_log = 0;
  int exp_checked = 0, log_checked = 0, subnormal_exp = 0, subnormal_log = 0;
  for (int i = 0; i < 400000; ++i) {
    const float x = std::bit_cast<float>(next_bits());
    if (std::isnan(x) || std::isinf(x)) continue;
    if (x > -104.0f && x < 88.7f) {
      const double exact = std::exp(static_cast<double>(x));
      worst_exp = std::max(worst_exp, ulps(nnx::portable::expf(x), exact));
      subnormal_exp += exact < 1.17549435e-38;
      ++exp_checked;
    }
    if (x > 0) {
      worst_log = std::max(worst_log, ulps(nnx::portable::logf(x), std::log(static_cast<double>(x))));
      subnormal_log += x < 1.17549435e-38f;
      ++log_checked;
    }
  }
  // Uniform floats in the ranges softmax meets: x - max in [-30, 0], sums in [1, 1000].
  for (int i = 0; i <= 300000; ++i) {
    const float x = -30.0f * static_cast<float>(i) / 300000.0f;
    worst_exp = std::max(worst_exp, ulps(nnx::portable::expf(x), std::exp(static_cast<double>(x))));
    const float s = 1.0f + 999.0f * static_cast<float>(i) / 300000.0f;
    worst_log = std::max(worst_log, ulps(nnx::portable::logf(s), std::log(static_cast<double>(s))));
  }
  MESSAGE("expf worst " << worst_exp << " ulp over " << exp_checked << " random floats; logf worst " << worst_log
                        << " ulp over " << log_checked);
  CHECK(exp_checked > 1000);
  CHECK(log_checked > 100000);
  CHECK(subnormal_log > 100);  // the subnormal branch really ran
  CHECK(worst_exp <= 2.0);
  CHECK(worst_log <= 2.0);
  (void)subnormal_exp;

  constexpr float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  CHECK(nnx::portable::expf(0.0f) == 1.0f);
  CHECK(nnx::portable::expf(-inf) == 0.0f);
  CHECK(nnx::portable::expf(-200.0f) == 0.0f);
  CHECK(nnx::portable::expf(89.0f) == inf);
  CHECK(nnx::portable::expf(inf) == inf);
  CHECK(std::isnan(nnx::portable::expf(nan)));
  CHECK(nnx::portable::expf(-100.0f) > 0.0f);  // a subnormal result, not flushed
  CHECK(nnx::portable::logf(1.0f) == 0.0f);
  CHECK(nnx::portable::logf(0.0f) == -inf);
  CHECK(nnx::portable::logf(-0.0f) == -inf);
  CHECK(nnx::portable::logf(inf) == inf);
  CHECK(std::isnan(nnx::portable::logf(-1.0f)));
  CHECK(std::isnan(nnx::portable::logf(nan)));
}
