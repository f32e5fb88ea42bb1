// Losses and metrics against hand computation; gradients of the fused losses; error messages.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include <nnx/nnx.hpp>

#include "fixtures.hpp"

using namespace framework_test;

namespace {

using nnx::Array;
using nnx::DType;
using nnx::Path;
using nnx::State;
using Vec = std::vector<double>;

Array f64(nnx::Shape shape, const Vec& v) { return Array::from_values<double>(std::move(shape), v); }
double item(const Array& a) { return a.astype(DType::float64).item<double>(); }

// A module whose only Param is the logits, to differentiate losses with respect to them.
struct Logits : nnx::Module {
  nnx::Param x;
  Logits() = default;
  explicit Logits(Array a) : x(std::move(a)) {}
  NNX_FIELDS(x)
};

// A float32 and a float64 parameter (a sorts first, so the total is float32).
struct Mixed : nnx::Module {
  nnx::Param a, b;
  Mixed() : a(Array::from_values<float>({2}, {1, -2})), b(f64({2}, {3, -0.5})) {}
  NNX_FIELDS(a, b)
};

double logsumexp(const double* row, int n) {
  double m = row[0];
  for (int i = 1; i < n; ++i) m = std::max(m, row[i]);
  double s = 0;
  for (int i = 0; i < n; ++i) s += std::exp(row[i] - m);
  return m + std::log(s);
}

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

const Vec kLogits = {1.0, -2.0, 0.5, 3.0, 0.0, 0.25, -1.0, 2.0, -0.5, 1.5, 1.5, -3.0};  // (3, 4)

}  // namespace

TEST_CASE("mse is the mean of squared differences, shapes must match") {
  const Array p = f64({2, 2}, {1, 2, 3, 4}), t = f64({2, 2}, {0, 2, 5, 4.5});
  CHECK(item(nnx::mse(p, t)) == doctest::Approx((1 + 0 + 4 + 0.25) / 4).epsilon(1e-15));
  CHECK(nnx::mse(p, t).shape() == nnx::Shape{});
  CHECK(item(nnx::mse(p.astype(DType::float32), t.astype(DType::float32))) == doctest::Approx(1.3125).epsilon(1e-7));
  const std::string msg = error_of([&] { nnx::mse(p, f64({4}, {0, 0, 0, 0})); });
  CHECK(has(msg, "float64[2,2]"));
  CHECK(has(msg, "float64[4]"));
}

TEST_CASE_TEMPLATE("softmax_cross_entropy with integer labels: mean of logsumexp - logit[label]", L, std::int32_t,
                   std::int64_t) {
  const std::vector<L> labels = {2, 0, 3};
  double expected = 0;
  for (int r = 0; r < 3; ++r) expected += logsumexp(&kLogits[static_cast<std::size_t>(4 * r)], 4) - kLogits[static_cast<std::size_t>(4 * r) + static_cast<std::size_t>(labels[static_cast<std::size_t>(r)])];
  expected /= 3;
  const Array y = Array::from_values<L>({3}, labels);
  const Array loss = nnx::softmax_cross_entropy(f64({3, 4}, kLogits), y);
  CHECK(loss.shape_dtype() == nnx::ShapeDtype{{}, DType::float64});
  CHECK(item(loss) == doctest::Approx(expected).epsilon(1e-14));
  CHECK(item(nnx::softmax_cross_entropy(f64({3, 4}, kLogits).astype(DType::float32), y)) ==
        doctest::Approx(expected).epsilon(1e-6));

  // Leading axes are batch axes: (2, 2, 3) logits with (2, 2) labels is the mean over 4 rows.
  const Vec l4 = {1, 2, 3, -1, 0, 1, 5, 5, 5, 0, -2, 4};
  const std::vector<L> y4 = {2, 0, 1, 2};
  double e4 = 0;
  for (int r = 0; r < 4; ++r) e4 += logsumexp(&l4[static_cast<std::size_t>(3 * r)], 3) - l4[static_cast<std::size_t>(3 * r) + static_cast<std::size_t>(y4[static_cast<std::size_t>(r)])];
  CHECK(item(nnx::softmax_cross_entropy(f64({2, 2, 3}, l4), Array::from_values<L>({2, 2}, y4))) ==
        doctest::Approx(e4 / 4).epsilon(1e-14));

  // Stable for huge logits.
  const Array big = f64({2, 2}, {1000, 0, -1000, 1000});
  CHECK(item(nnx::softmax_cross_entropy(big, Array::from_values<L>({2}, {0, 1}))) == doctest::Approx(0.0));
  CHECK(item(nnx::softmax_cross_entropy(big, Array::from_values<L>({2}, {1, 0}))) == doctest::Approx(1500.0).epsilon(1e-14));
}

TEST_CASE("softmax_cross_entropy's gradient is (softmax - onehot) / rows") {
  Logits m(f64({3, 4}, kLogits));
  const Array y = Array::from_values<std::int32_t>({3}, {2, 0, 3});
  const State g = nnx::grad(m, [&](Logits& l) { return nnx::softmax_cross_entropy(l.x.value, y); });
  const Vec got = values(g.at("x").value);
  for (int r = 0; r < 3; ++r) {
    const double lse = logsumexp(&kLogits[static_cast<std::size_t>(4 * r)], 4);
    for (int c = 0; c < 4; ++c) {
      const std::size_t i = static_cast<std::size_t>(4 * r + c);
      const double expected = (std::exp(kLogits[i] - lse) - (c == y.data<std::int32_t>()[r] ? 1.0 : 0.0)) / 3.0;
      CAPTURE(i);
      CHECK(got[i] == doctest::Approx(expected).epsilon(1e-13));
    }
  }
}

TEST_CASE("softmax_cross_entropy_with_probs: mean over rows of -sum(t * log_softmax)") {
  const Vec t = {0.2, 0.3, 0.5, 0.0, 1.0, 0.0, 0.0, 0.0, 0.25, 0.25, 0.25, 0.25};
  double expected = 0;
  for (int r = 0; r < 3; ++r) {
    const double lse = logsumexp(&kLogits[static_cast<std::size_t>(4 * r)], 4);
    for (int c = 0; c < 4; ++c) {
      const std::size_t i = static_cast<std::size_t>(4 * r + c);
      expected -= t[i] * (kLogits[i] - lse);
    }
  }
  const Array logits = f64({3, 4}, kLogits);
  CHECK(item(nnx::softmax_cross_entropy_with_probs(logits, f64({3, 4}, t))) == doctest::Approx(expected / 3).epsilon(1e-13));
  // One-hot targets give the integer-label loss.
  const Vec onehot = {0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 1};
  CHECK(item(nnx::softmax_cross_entropy_with_probs(logits, f64({3, 4}, onehot))) ==
        doctest::Approx(item(nnx::softmax_cross_entropy(logits, Array::from_values<std::int32_t>({3}, {2, 0, 3}))))
            .epsilon(1e-13));
  const std::string msg = error_of([&] { nnx::softmax_cross_entropy_with_probs(logits, f64({4, 3}, t)); });
  CHECK(has(msg, "float64[3,4]"));
  CHECK(has(msg, "float64[4,3]"));
}

TEST_CASE("binary_cross_entropy_with_logits matches -t log s(x) - (1-t) log(1 - s(x)), stably for large |x|") {
  const Vec x = {-2.0, -0.5, 0.0, 1.5, 3.0}, t = {0.0, 1.0, 0.5, 0.3, 1.0};
  double expected = 0;
  for (std::size_t i = 0; i < x.size(); ++i)
    expected -= t[i] * std::log(sigmoid(x[i])) + (1 - t[i]) * std::log(1 - sigmoid(x[i]));
  expected /= 5;
  CHECK(item(nnx::binary_cross_entropy_with_logits(f64({5}, x), f64({5}, t))) == doctest::Approx(expected).epsilon(1e-13));
  CHECK(item(nnx::binary_cross_entropy_with_logits(f64({5}, x).astype(DType::float32), f64({5}, t).astype(DType::float32))) ==
        doctest::Approx(expected).epsilon(1e-6));

  // |x| = 1000: the naive formula gives log(0) = -inf; the loss is |x| when wrong, 0 when right.
  for (DType dtype : {DType::float32, DType::float64}) {
    CAPTURE(dtype);
    const Array big = f64({4}, {1000, -1000, 1000, -1000}).astype(dtype);
    const Array bt = f64({4}, {0, 1, 1, 0}).astype(dtype);
    const double loss = item(nnx::binary_cross_entropy_with_logits(big, bt));
    CHECK(std::isfinite(loss));
    CHECK(loss == doctest::Approx(500.0).epsilon(1e-12));
  }

  // Gradient with respect to the logits: (sigmoid(x) - t) / n.
  Logits m(f64({5}, x));
  const Array targets = f64({5}, t);
  const State g = nnx::grad(m, [&](Logits& l) { return nnx::binary_cross_entropy_with_logits(l.x.value, targets); });
  const Vec got = values(g.at("x").value);
  for (std::size_t i = 0; i < x.size(); ++i) CHECK(got[i] == doctest::Approx((sigmoid(x[i]) - t[i]) / 5).epsilon(1e-13));
  CHECK(has(error_of([&] { nnx::binary_cross_entropy_with_logits(f64({5}, x), f64({1, 5}, t)); }), "float64[1,5]"));
}

TEST_CASE("l2_penalty sums the squares of every floating value, its gradient is 2 w") {
  State s;
  s.set(Path{"a"}, nnx::Param(f64({2}, {1, -2}).astype(DType::float32)));
  s.set(Path{"b", 0}, nnx::BatchStat(f64({1}, {3})));
  s.set(Path{"c"}, nnx::Param(Array::from_values<std::int32_t>({1}, {100})));  // not floating: skipped
  const Array p = nnx::l2_penalty(s);
  CHECK(p.shape() == nnx::Shape{});
  CHECK(item(p) == doctest::Approx(14.0));
  CHECK(item(nnx::l2_penalty(State{})) == 0.0);

  Logits m(f64({3}, {0.5, -1.5, 2.0}));
  const State g = nnx::grad(m, [](Logits& l) { return nnx::l2_penalty(nnx::state(l, nnx::Param{})); });
  CHECK(values(g.at("x").value) == Vec{1.0, -3.0, 4.0});

  // Mixed dtypes: the float64 parameter's penalty is added to the float32 total; its gradient
  // must still reach it.
  Mixed mixed;
  const State gm = nnx::grad(mixed, [](Mixed& x) { return nnx::l2_penalty(nnx::state(x, nnx::Param{})); });
  CHECK(item(nnx::l2_penalty(nnx::state(mixed))) == doctest::Approx(1 + 4 + 9 + 0.25));
  CHECK(gm.at("a").value.dtype() == DType::float32);
  CHECK(values(gm.at("a").value) == Vec{2.0, -4.0});
  CHECK(gm.at("b").value.dtype() == DType::float64);
  CHECK(values(gm.at("b").value) == Vec{6.0, -1.0});
}

TEST_CASE("accuracy: argmax for several classes, the sign for one logit column") {
  const Array logits = Array::from_values<float>({4, 3}, {3, 1, 0, 0, 1, 5, 2, 1, 0, 0, 4, 1});
  CHECK(nnx::accuracy(logits, Array::from_values<std::int32_t>({4}, {0, 2, 1, 1})) == 0.75);
  CHECK(nnx::accuracy(logits, Array::from_values<std::int64_t>({4}, {0, 2, 0, 1})) == 1.0);
  CHECK(nnx::accuracy(logits, Array::from_values<std::int32_t>({4}, {1, 0, 1, 0})) == 0.0);

  const Array binary = Array::from_values<float>({5, 1}, {2, -1, 0.5f, -3, 0});
  CHECK(nnx::accuracy(binary, Array::from_values<std::int32_t>({5}, {1, 0, 0, 1, 0})) == 0.6);  // 0 counts as class 0
  CHECK(nnx::accuracy(binary, Array::from_values<std::int64_t>({5}, {1, 0, 1, 0, 0})) == 1.0);
}

TEST_CASE("r2_score = 1 - SS_res / SS_tot") {
  const Array t = f64({4, 1}, {1, 2, 3, 4});
  CHECK(nnx::r2_score(t, t) == 1.0);
  CHECK(nnx::r2_score(f64({4, 1}, {2.5, 2.5, 2.5, 2.5}), t) == doctest::Approx(0.0));
  CHECK(nnx::r2_score(f64({4, 1}, {1.5, 2, 2.5, 5}), t) == doctest::Approx(1.0 - 1.5 / 5.0).epsilon(1e-15));
  CHECK(nnx::r2_score(f64({4, 1}, {4, 3, 2, 1}), t) == doctest::Approx(1.0 - 20.0 / 5.0).epsilon(1e-15));
  CHECK(nnx::r2_score(t.astype(DType::float32), t.astype(DType::float32)) == 1.0);
  const Array flat = f64({2}, {3, 3});
  CHECK(nnx::r2_score(flat, flat) == 1.0);
  CHECK(nnx::r2_score(f64({2}, {3, 4}), flat) == 0.0);
  CHECK(has(error_of([&] { nnx::r2_score(t, f64({4}, {1, 2, 3, 4})); }), "float64[4,1]"));
}

TEST_CASE("MeanMetric is a weighted mean, RunningAverage is bias-corrected") {
  nnx::MeanMetric mean;
  CHECK(mean.value() == 0.0);
  mean.update(2.0);
  mean.update(4.0, 3.0);
  CHECK(mean.value() == doctest::Approx(3.5));
  CHECK(mean.weight() == 4.0);
  mean.reset();
  CHECK(mean.value() == 0.0);
  CHECK(mean.weight() == 0.0);

  nnx::RunningAverage avg(0.5);
  CHECK(avg.value() == 0.0);
  avg.update(4.0);
  CHECK(avg.value() == doctest::Approx(4.0));  // not 2.0: the first value is not dragged towards 0
  avg.update(2.0);
  CHECK(avg.value() == doctest::Approx((0.25 * 4 + 0.5 * 2) / 0.75));
  avg.update(8.0);
  CHECK(avg.value() == doctest::Approx((0.125 * 4 + 0.25 * 2 + 0.5 * 8) / 0.875));
  CHECK(avg.count() == 3);
  nnx::RunningAverage constant(0.98);
  for (int i = 0; i < 10; ++i) constant.update(7.0);
  CHECK(constant.value() == doctest::Approx(7.0).epsilon(1e-12));
}

TEST_CASE("bad labels are errors naming the row and the label") {
  const Array logits = f64({3, 3}, {0, 0, 0, 1, 1, 1, 2, 2, 2});
  struct Case {
    std::string name;
    Array labels;
    std::vector<std::string> parts;
  };
  const std::vector<Case> cases = {
      {"too large", Array::from_values<std::int32_t>({3}, {0, 3, 1}), {"label 3 of row 1", "outside [0, 3)"}},
      {"negative", Array::from_values<std::int64_t>({3}, {0, 1, -1}), {"label -1 of row 2"}},
      {"float", f64({3}, {0, 1, 2}), {"int32 or int64", "float64[3]", "softmax_cross_entropy_with_probs"}},
      {"count", Array::from_values<std::int32_t>({2}, {0, 1}), {"expected 3 labels", "int32[2]"}},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    const std::string ce = error_of([&] { nnx::softmax_cross_entropy(logits, c.labels); });
    const std::string acc = error_of([&] { nnx::accuracy(logits, c.labels); });
    CHECK(has(ce, "softmax_cross_entropy"));
    CHECK(has(acc, "accuracy"));
    for (const auto& part : c.parts) {
      CAPTURE(part);
      CHECK(has(ce, part));
      CHECK(has(acc, part));
    }
  }
}
