// Standardize: fitted statistics as FeatureStat state — computed in float64, refused before fit,
// constant features divided by 1, saved and restored through split/merge, never trained.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include <nnx/nnx.hpp>

#include "fixtures.hpp"

using namespace framework_test;

namespace {

using nnx::Array;
using nnx::DType;

// 5 rows, 3 features: an ordinary one, a constant one, a large-offset one.
Array standardize_features() {
  return Array::from_values<float>({5, 3}, {1, 7, 1000, 2, 7, 1002, 3, 7, 1004, 4, 7, 1006, 10, 7, 1008});
}

}  // namespace

TEST_CASE("Standardize.fit: per-feature mean and population stddev in float64, a constant feature is divided by 1") {
  nnx::Standardize scaler(3);
  CHECK_FALSE(scaler.is_fitted());
  scaler.fit(standardize_features());
  CHECK(scaler.is_fitted());
  CHECK(scaler.count.value.item<std::int64_t>() == 5);

  const std::vector<double> mean = {4.0, 7.0, 1004.0};
  const std::vector<double> stddev = {std::sqrt((9.0 + 4 + 1 + 0 + 36) / 5), 1.0, std::sqrt((16.0 + 4 + 0 + 4 + 16) / 5)};
  for (std::size_t c = 0; c < 3; ++c) {
    CAPTURE(c);
    CHECK(values(scaler.mean.value)[c] == static_cast<float>(mean[c]));
    CHECK(values(scaler.stddev.value)[c] == static_cast<float>(stddev[c]));
  }
  const Array z = scaler(standardize_features());
  const std::vector<double> out = values(z);
  for (std::size_t r = 0; r < 5; ++r) CHECK(out[r * 3 + 1] == 0.0);  // the constant feature: x - mean, no NaN
  double column_mean = 0;
  for (std::size_t r = 0; r < 5; ++r) column_mean += out[r * 3] / 5;
  CHECK(std::fabs(column_mean) < 1e-6);
  CHECK(scaler.mean.kind() == nnx::FeatureStat::static_kind());
  CHECK_FALSE(scaler.mean.kind().is_a(nnx::Param::static_kind()));
}

TEST_CASE("Standardize refuses to run before fit, and refuses bad inputs, each with the fix") {
  nnx::Standardize scaler(3);
  struct Case {
    const char* name;
    std::function<void()> run;
    std::vector<std::string> message;
  };
  const Case cases[] = {
      {"used before fit", [&] { scaler(standardize_features()); }, {"Standardize(3): used before fit", "call fit("}},
      {"fit on the wrong width", [&] { scaler.fit(Array::zeros({4, 2}, DType::float32)); }, {"expected features", "got float32[4,2]"}},
      {"fit on no rows", [&] { scaler.fit(Array::zeros({0, 3}, DType::float32)); }, {"rows >= 1"}},
      {"fit on a NaN", [&] { scaler.fit(Array::from_values<double>({2, 3}, {1, 2, 3, 4, NAN, 6})); }, {"features[1, 1]", "finite"}},
      {"input of another dtype", [&] { scaler(Array::zeros({2, 3}, DType::float64)); }, {"of float32, got float64[2,3]"}},
      {"no features", [] { nnx::Standardize(0); }, {"num_features must be > 0"}},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    const std::string error = error_of(c.run);
    CAPTURE(error);
    for (const std::string& part : c.message) CHECK(has(error, part));
  }
  CHECK_FALSE(scaler.is_fitted());  // a refused fit changes nothing
}

TEST_CASE("Standardize's statistics survive split/merge and a restore into an unfitted layer, the optimizer leaves them") {
  nnx::Rngs rngs(0);
  nnx::Standardize scaler(3);
  scaler.fit(standardize_features());
  nnx::Sequential net(scaler, nnx::Linear(3, 2, rngs));
  const Array x = standardize_features();
  const Array y = Array::from_values<std::int32_t>({5}, {0, 1, 0, 1, 1});

  // Saved: the statistics are State (kind FeatureStat); merge gives a fitted layer, same outputs.
  auto [graphdef, params, stats] = nnx::split(net, nnx::Param{}, nnx::FeatureStat{});
  CHECK(paths_of(stats) == std::vector<std::string>{"layers/0/count", "layers/0/mean", "layers/0/stddev"});
  nnx::Sequential restored = nnx::merge(graphdef, params, stats);
  CHECK(nnx::array_equal(restored(x), net(x)));

  // A restore target from eval_shape has exactly the saved statistics' structure (kinds, shapes).
  auto abstract = nnx::eval_shape([] { return nnx::Standardize(3); });
  CHECK(nnx::compare_structure(nnx::state(abstract), stats.subtree(nnx::Path{"layers", 0})).empty());

  // Restored into a fresh, unfitted layer: it is fitted now.
  nnx::Standardize fresh(3);
  nnx::update(fresh, stats.subtree(nnx::Path{"layers", 0}));
  CHECK(fresh.is_fitted());
  CHECK(nnx::array_equal(fresh(x), scaler(x)));

  // Trained: the Linear moves, the statistics do not, and no gradient is taken for them.
  nnx::Optimizer opt(net, nnx::optim::sgd(0.5));
  const auto loss = [&](nnx::Sequential& m) { return nnx::softmax_cross_entropy(m(x), y); };
  CHECK(paths_of(nnx::value_and_grad(net, loss).grads) == std::vector<std::string>{"layers/1/bias", "layers/1/kernel"});
  for (int i = 0; i < 3; ++i) nnx::train_step(net, opt, loss);
  CHECK(nnx::state_equal(nnx::state(net, nnx::FeatureStat{}), stats));
  CHECK_FALSE(nnx::state_equal(nnx::state(net, nnx::Param{}), params));
}

TEST_CASE("Standardize: a feature with a stddev too small for float32 is divided by 1, never by 0") {
  nnx::Standardize scaler(2);  // float32 statistics
  scaler.fit(Array::from_values<double>({2, 2}, {1e-45, 1.0, 3e-45, 2.0}));  // stddev 1e-45: 0 in float32
  CHECK(values(scaler.stddev.value)[0] == 1.0);
  CHECK(values(scaler.stddev.value)[1] == 0.5);
  for (double v : values(scaler(Array::from_values<float>({1, 2}, {0.f, 1.5f})))) CHECK(std::isfinite(v));
}
