// MLP: state layout, parameter count, train/eval reaching the inner layers, dtypes,
// reproducibility from the seed and configuration errors.
#include <doctest/doctest.h>

#include <nnx/models.hpp>
#include <string>
#include <vector>

namespace {

using nnx::Array;
using nnx::DType;
using nnx::models::MLP;
using nnx::models::MLPConfig;

MLPConfig base_config() { return {.in = 4, .hidden = {32, 32}, .out = 2, .dropout = 0.1}; }

MLP make(const MLPConfig& config, std::uint64_t seed = 0) {
  nnx::Rngs rngs({{"params", seed}, {"dropout", seed + 1}});
  return MLP(config, rngs);
}

Array batch(DType dtype = DType::float32) {
  std::vector<double> v(16 * 4);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(i % 9) * 0.3 - 1.0;
  return Array::from_values<double>({16, 4}, v).astype(dtype);
}

struct Expected {
  const char* path;
  const char* kind;
  nnx::ShapeDtype sd;
};

void check_layout(const nnx::State& s, const std::vector<Expected>& expected) {
  std::vector<std::string> paths, want;
  for (const auto& [path, var] : s) paths.push_back(path.str());
  for (const auto& e : expected) want.push_back(e.path);
  CHECK(paths == want);
  for (const auto& e : expected) {
    CAPTURE(e.path);
    REQUIRE(s.contains(nnx::Path::parse(e.path)));
    const nnx::Variable& v = s.at(e.path);
    CHECK(v.kind().name() == e.kind);
    CHECK(v.value.shape_dtype() == e.sd);
  }
}

}  // namespace

TEST_CASE("MLP state paths, kinds and shapes") {
  MLP model = make(base_config());
  CHECK(model.depth() == 2);
  const auto f32 = [](nnx::Shape s) { return nnx::ShapeDtype{std::move(s), DType::float32}; };
  const nnx::ShapeDtype key{{2}, DType::uint32}, count{{}, DType::uint32};
  const nnx::State s = nnx::state(model);
  check_layout(s, {{"dropout/rngs/count", "RngCount", count},
                   {"dropout/rngs/key", "RngKey", key},
                   {"layers/0/bias", "Param", f32({32})},
                   {"layers/0/kernel", "Param", f32({4, 32})},
                   {"layers/1/bias", "Param", f32({32})},
                   {"layers/1/kernel", "Param", f32({32, 32})},
                   {"layers/2/bias", "Param", f32({2})},
                   {"layers/2/kernel", "Param", f32({32, 2})}});
  CHECK(s.at("dropout/rngs/key").meta("tag") == "dropout");
  // The dropout stream's key is the first draw of the "dropout" stream, made after the Linears.
  const std::uint32_t* k = s.at("dropout/rngs/key").value.data<std::uint32_t>();
  CHECK(nnx::Key{k[0], k[1]} == nnx::fold_in(nnx::key_from_seed(1), 0));
  CHECK(model.num_parameters() == (4 * 32 + 32) + (32 * 32 + 32) + (32 * 2 + 2));
  CHECK(nnx::state(model, nnx::Param{}).num_elements() == model.num_parameters());
  CHECK(model(batch()).shape_dtype() == f32({16, 2}));

  // Without dropout there is no dropout subtree; without hidden layers it is one Linear.
  MLP plain = make({.in = 3, .hidden = {5}, .out = 1});
  CHECK_FALSE(plain.dropout.has_value());
  CHECK(nnx::state(plain).size() == 4);
  MLP linear = make({.in = 3, .hidden = {}, .out = 2, .use_bias = false});
  CHECK(linear.depth() == 0);
  check_layout(nnx::state(linear), {{"layers/0/kernel", "Param", f32({3, 2})}});
  CHECK(linear.num_parameters() == 6);
}

TEST_CASE("MLP with batch_norm has norms/i/{bias,mean,scale,var} of the right kinds") {
  MLPConfig config = base_config();
  config.batch_norm = true;
  MLP model = make(config);
  REQUIRE(model.norms.size() == 2);
  const nnx::State s = nnx::state(model);
  CHECK(s.size() == 16);
  for (int i = 0; i < 2; ++i) {
    CAPTURE(i);
    const nnx::State norm = s.subtree({"norms", i});
    std::vector<std::string> names;
    for (const auto& [path, var] : norm) names.push_back(path.str());
    CHECK(names == std::vector<std::string>{"bias", "mean", "scale", "var"});
    CHECK(norm.at("scale").kind() == nnx::Param::static_kind());
    CHECK(norm.at("bias").kind() == nnx::Param::static_kind());
    CHECK(norm.at("mean").kind() == nnx::BatchStat::static_kind());
    CHECK(norm.at("var").kind() == nnx::BatchStat::static_kind());
    for (const auto& [path, var] : norm) CHECK(var.value.shape_dtype() == nnx::ShapeDtype{{32}, DType::float32});
  }
  CHECK(model.num_parameters() == 1282 + 2 * (32 + 32));
  CHECK(nnx::state(model, nnx::BatchStat{}).num_elements() == 4 * 32);
}

TEST_CASE("train() / eval() reach the Dropout and BatchNorm inside the MLP") {
  MLPConfig config = base_config();
  config.batch_norm = true;
  config.dropout = 0.5;
  MLP model = make(config);
  const Array x = batch();

  model.eval();
  CHECK_FALSE(model.dropout->is_training());
  for (const auto& bn : model.norms) CHECK_FALSE(bn.is_training());
  for (const auto& l : model.layers) CHECK_FALSE(l.is_training());
  const nnx::State before = nnx::state(model);
  const Array e1 = model(x);
  const Array e2 = model(x);
  CHECK(nnx::array_equal(e1, e2));                      // deterministic
  CHECK(nnx::state_equal(nnx::state(model), before));   // no running stats update, no draws

  model.train();
  CHECK(model.dropout->is_training());
  for (const auto& bn : model.norms) CHECK(bn.is_training());
  const Array t1 = model(x);
  const Array t2 = model(x);
  CHECK_FALSE(nnx::array_equal(t1, t2));  // new masks each call
  // One draw per hidden layer per call from the shared Dropout's stream.
  CHECK(model.dropout->rngs.current_count() == 4);
  CHECK_FALSE(nnx::array_equal(model.norms[0].mean.value, before.at("norms/0/mean").value));
  CHECK_FALSE(nnx::array_equal(model.norms[1].var.value, before.at("norms/1/var").value));
}

TEST_CASE("MLP without batch norm in eval equals the manual composition") {
  MLPConfig config = base_config();
  config.activation = nnx::Activation::tanh;
  MLP model = make(config);
  model.eval();
  const Array x = batch();
  auto& L = model.layers;
  const Array manual = L[2](nnx::tanh(L[1](nnx::tanh(L[0](x)))));
  CHECK(nnx::array_equal(model(x), manual));
}

TEST_CASE("MLP float64 option: every Param, BatchStat and output is float64") {
  MLPConfig config = base_config();
  config.dtype = DType::float64;
  config.batch_norm = true;
  MLP model = make(config);
  for (const auto& [path, var] : nnx::state(model)) {
    CAPTURE(path.str());
    if (var.kind().is_a(nnx::RngState::static_kind()))
      CHECK(var.value.dtype() == DType::uint32);
    else
      CHECK(var.value.dtype() == DType::float64);
  }
  const Array y = model(batch(DType::float64));
  CHECK(y.shape_dtype() == nnx::ShapeDtype{{16, 2}, DType::float64});
  // Float32 values drawn from the same keys are the float64 ones rounded.
  MLPConfig c32 = config;
  c32.dtype = DType::float32;
  MLP m32 = make(c32);
  CHECK(nnx::array_equal(m32.layers[0].kernel.value, model.layers[0].kernel.value.astype(DType::float32)));
}

TEST_CASE("same seed gives a bitwise identical State, another seed a different one") {
  MLPConfig config = base_config();
  config.batch_norm = true;
  MLP m7 = make(config, 7), m7_again = make(config, 7), m8 = make(config, 8);
  const nnx::State a = nnx::state(m7), b = nnx::state(m7_again), c = nnx::state(m8);
  CHECK(nnx::state_equal(a, b));
  CHECK_FALSE(nnx::state_equal(a, c));
  CHECK_FALSE(nnx::array_equal(a.at("layers/1/kernel").value, c.at("layers/1/kernel").value));
  CHECK_FALSE(nnx::array_equal(a.at("dropout/rngs/key").value, c.at("dropout/rngs/key").value));
  // Same structure regardless of the seed.
  CHECK(nnx::compare_structure(a, c).empty());
}

TEST_CASE("bad MLP configurations are refused with the offending values") {
  nnx::Rngs rngs(0);
  CHECK_THROWS_WITH_AS(MLP({.in = 0, .hidden = {}, .out = 2}, rngs), doctest::Contains("in = 0"), nnx::Error);
  CHECK_THROWS_WITH_AS(MLP({.in = 3, .hidden = {}, .out = -1}, rngs), doctest::Contains("out = -1"), nnx::Error);
  CHECK_THROWS_AS(MLP({.in = 3, .hidden = {0}, .out = 1}, rngs), nnx::Error);
  CHECK_THROWS_WITH_AS(MLP({.in = 3, .hidden = {4}, .out = 1, .dropout = 1.5}, rngs), doctest::Contains("[0, 1)"),
                       nnx::Error);
}

TEST_CASE("MLP(config, nnx::Rngs(seed)) takes a temporary Rngs and equals an MLP built from a named one") {
  const MLPConfig config{.in = 3, .hidden = {5}, .out = 2, .dropout = 0.1, .batch_norm = true};
  MLP from_temporary(config, nnx::Rngs(3));
  nnx::Rngs named(3);
  MLP from_named(config, named);
  CHECK(nnx::state_equal(nnx::state(from_temporary), nnx::state(from_named)));
}
