// Tests of nnx/filter.hpp and of the Variable kind hierarchy in nnx/variable.hpp.
#include <doctest/doctest.h>

#include <sstream>
#include <string>
#include <vector>

#include <nnx/models.hpp>

using nnx::Array;
using nnx::DType;
using nnx::Path;
using nnx::State;

namespace {
// A user-defined kind: a Param that filters can tell apart (unnamed namespace: no clash with
// other translation units that define a class of the same name).
NNX_VARIABLE_KIND(LoraParam, nnx::Param, "LoraParam");

State sample_state() {
  State s;
  s.set(Path{"layers", 0, "kernel"}, nnx::Param(Array::zeros({4, 8}, DType::float32)));
  s.set(Path{"layers", 0, "bias"}, nnx::Param(Array::zeros({8}, DType::float32)));
  s.set(Path{"layers", 1, "kernel"}, nnx::Param(Array::zeros({8, 2}, DType::float32)));
  s.set(Path{"layers", 1, "lora_a"}, LoraParam(Array::zeros({8, 1}, DType::float32)));
  s.set(Path{"norm", "mean"}, nnx::BatchStat(Array::zeros({8}, DType::float32)));
  s.set(Path{"norm", "scale"}, nnx::Param(Array::ones({8}, DType::float32)));
  s.set(Path{"drop", "rngs", "key"}, nnx::RngKey(Array::zeros({2}, DType::uint32), {{"tag", "dropout"}}));
  s.set(Path{"drop", "rngs", "count"}, nnx::RngCount(Array::zeros({}, DType::uint32), {{"tag", "dropout"}}));
  return s;
}

std::vector<std::string> selected(const State& s, const nnx::Filter& f) {
  std::vector<std::string> out;
  for (const auto& [path, v] : s)
    if (f(path, v)) out.push_back(path.str());
  return out;
}

using Paths = std::vector<std::string>;
}  // namespace

TEST_CASE("a user-defined kind derives from its parent") {
  LoraParam lora(Array::zeros({2}, DType::float32), {{"rank", "1"}});
  CHECK(lora.kind().name() == "LoraParam");
  CHECK(lora.kind() == LoraParam::static_kind());
  CHECK(lora.kind().parent() == nnx::Param::static_kind());
  CHECK(lora.kind().is_a(nnx::Param::static_kind()));
  CHECK(lora.kind().is_a(nnx::Kind::root()));
  CHECK_FALSE(nnx::Param::static_kind().is_a(LoraParam::static_kind()));
  CHECK_FALSE(lora.kind().is_a(nnx::BatchStat::static_kind()));
  CHECK(lora.meta("rank") == "1");
  CHECK(lora.meta("absent", "fallback") == "fallback");
  CHECK(nnx::RngKey::static_kind().parent() == nnx::RngState::static_kind());
  CHECK(nnx::Kind::root().name() == "Variable");
  CHECK(nnx::Kind::root().parent() == nnx::Kind::root());
  CHECK(nnx::Kind::from_name("LoraParam") == LoraParam::static_kind());
  CHECK(nnx::Kind::from_name("Param") == nnx::Param::static_kind());
  CHECK(nnx::Kind::from_name("RngCount").parent() == nnx::RngState::static_kind());
  // Defining the same name with the same parent returns the same kind.
  CHECK(nnx::Kind::define("LoraParam", nnx::Param::static_kind()) == LoraParam::static_kind());
}

TEST_CASE("Kind::define with a conflicting parent throws") {
  (void)LoraParam::static_kind();
  try {
    (void)nnx::Kind::define("LoraParam", nnx::BatchStat::static_kind());
    FAIL("conflicting kind accepted");
  } catch (const nnx::Error& e) {
    std::string msg = e.what();
    CHECK(msg.find("'LoraParam'") != std::string::npos);
    CHECK(msg.find("'Param'") != std::string::npos);
    CHECK(msg.find("'BatchStat'") != std::string::npos);
  }
  CHECK_THROWS_WITH_AS((void)nnx::Kind::define("Param", nnx::BatchStat::static_kind()),
                       doctest::Contains("'Param'"), nnx::Error);
  // The registry is unchanged by the failed definitions.
  CHECK(nnx::Kind::from_name("LoraParam").parent() == nnx::Param::static_kind());
}

TEST_CASE("Kind::from_name of an unknown name registers a child of Variable") {
  nnx::Kind k = nnx::Kind::from_name("filter_test.SomeCheckpointKind");
  CHECK(k.name() == "filter_test.SomeCheckpointKind");
  CHECK(k.parent() == nnx::Kind::root());
  CHECK(k.parent().name() == "Variable");
  CHECK(k.is_a(nnx::Kind::root()));
  CHECK_FALSE(k.is_a(nnx::Param::static_kind()));
  CHECK(nnx::Kind::from_name("filter_test.SomeCheckpointKind") == k);  // interned
  std::ostringstream os;
  os << k;
  CHECK(os.str() == "filter_test.SomeCheckpointKind");
}

TEST_CASE("which paths each filter selects") {
  const State s = sample_state();
  const Paths all = {"drop/rngs/count", "drop/rngs/key",  "layers/0/bias", "layers/0/kernel",
                     "layers/1/kernel", "layers/1/lora_a", "norm/mean",     "norm/scale"};
  REQUIRE(selected(s, nnx::Everything{}) == all);

  const nnx::Filter two_dim([](const Path&, const nnx::Variable& v) { return v.value.ndim() == 2; }, "matrices");
  struct Row {
    nnx::Filter filter;
    std::string description;
    Paths paths;
  };
  const Row rows[] = {
      {nnx::Param{}, "Param",
       {"layers/0/bias", "layers/0/kernel", "layers/1/kernel", "layers/1/lora_a", "norm/scale"}},
      {LoraParam{}, "LoraParam", {"layers/1/lora_a"}},
      {nnx::Filter::of_kind(nnx::BatchStat::static_kind()), "BatchStat", {"norm/mean"}},
      {nnx::Filter::of_kind(nnx::Kind::root()), "Variable", all},
      {nnx::RngState{}, "RngState", {"drop/rngs/count", "drop/rngs/key"}},
      {nnx::RngKey{}, "RngKey", {"drop/rngs/key"}},
      {nnx::WithTag("dropout"), "WithTag(dropout)", {"drop/rngs/count", "drop/rngs/key"}},
      {nnx::WithTag("params"), "WithTag(params)", {}},
      {nnx::PathContains("kernel"), "PathContains(kernel)", {"layers/0/kernel", "layers/1/kernel"}},
      {nnx::PathContains(1), "PathContains(1)", {"layers/1/kernel", "layers/1/lora_a"}},
      {nnx::PathContains("1"), "PathContains(1)", {}},  // a name key never equals an integer key
      {nnx::PathIn({Path{"norm"}, Path{"layers", 0, "bias"}}), "PathIn(norm, layers/0/bias)",
       {"layers/0/bias", "norm/mean", "norm/scale"}},
      {nnx::PathIn({Path{"layers", 0, "b"}}), "PathIn(layers/0/b)", {}},  // whole keys, not string prefixes
      {nnx::Not(nnx::Param{}), "Not(Param)", {"drop/rngs/count", "drop/rngs/key", "norm/mean"}},
      {nnx::Any(nnx::BatchStat{}, LoraParam{}), "Any(BatchStat, LoraParam)", {"layers/1/lora_a", "norm/mean"}},
      {nnx::All(nnx::Param{}, nnx::Not(nnx::PathContains("bias")), nnx::PathContains("layers")),
       "All(Param, Not(PathContains(bias)), PathContains(layers))",
       {"layers/0/kernel", "layers/1/kernel", "layers/1/lora_a"}},
      {nnx::Any(), "Any()", {}},
      {nnx::All(), "All()", all},
      {nnx::Everything{}, "Everything", all},
      {nnx::Nothing{}, "Nothing", {}},
      {two_dim, "matrices", {"layers/0/kernel", "layers/1/kernel", "layers/1/lora_a"}},
      {nnx::All(two_dim, nnx::Not(LoraParam{})), "All(matrices, Not(LoraParam))",
       {"layers/0/kernel", "layers/1/kernel"}},
  };
  for (const Row& r : rows) {
    CAPTURE(r.description);
    CHECK(r.filter.description() == r.description);
    CHECK(selected(s, r.filter) == r.paths);
    CHECK(s.filter(r.filter).size() == r.paths.size());
    std::ostringstream os;
    os << r.filter;
    CHECK(os.str() == r.description);
  }
}

TEST_CASE("only Everything is marked as everything") {
  CHECK(nnx::Filter(nnx::Everything{}).is_everything());
  CHECK(nnx::Filter::everything().is_everything());
  CHECK_FALSE(nnx::Filter(nnx::Nothing{}).is_everything());
  CHECK_FALSE(nnx::Filter(nnx::Param{}).is_everything());
  CHECK_FALSE(nnx::Filter::of_kind(nnx::Kind::root()).is_everything());
  CHECK_FALSE(nnx::Any(nnx::Everything{}).is_everything());
}

TEST_CASE("filters on a real module") {
  nnx::Rngs rngs({{"params", 0}, {"dropout", 1}});
  nnx::models::MLP model({.in = 3, .hidden = {5}, .out = 2, .dropout = 0.5, .batch_norm = true}, rngs);
  CHECK(nnx::state(model, nnx::Param{}).size() == 6);  // 2 Linear x 2, BatchNorm scale + bias
  CHECK(nnx::state(model, nnx::BatchStat{}).size() == 2);
  CHECK(nnx::state(model, nnx::WithTag("dropout")).size() == 2);
  CHECK(nnx::state(model, nnx::Nothing{}).empty());
  CHECK(nnx::state(model, nnx::PathContains(0)).size() == 6);  // layers/0/*, norms/0/*
  auto [graphdef, params, stats, rest] = nnx::split(model, nnx::Param{}, nnx::BatchStat{}, nnx::Everything{});
  CHECK(params.size() == 6);
  CHECK(stats.size() == 2);
  CHECK(rest.size() == 2);
  CHECK(rest.filter(nnx::RngState{}).size() == 2);
  CHECK(graphdef.type_name() == "MLP");
}
