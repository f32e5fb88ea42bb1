// Restoring into a target that differs from the checkpoint: one StructureError naming every
// difference, exact messages; partial restores, dtype casts, missing and mistyped items.
#include <doctest/doctest.h>

#include <algorithm>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>
#include <string>
#include <vector>
#include <nnx/checkpoint/json.hpp>

#include "fixtures.hpp"

using namespace checkpoint_test;
using nnx::Difference;
using What = nnx::Difference::What;

namespace {

nnx::models::MLP make_mlp(std::vector<std::int64_t> hidden, DType dtype = DType::float32, std::uint64_t seed = 0) {
  nnx::Rngs rngs(seed);
  return nnx::models::MLP({.in = 4, .hidden = std::move(hidden), .out = 2, .dtype = dtype}, rngs);
}

// The target a resumed run builds: the structure of a model, no memory.
State abstract_mlp(std::vector<std::int64_t> hidden, DType dtype = DType::float32) {
  auto model = nnx::eval_shape([&] { return make_mlp(hidden, dtype); });
  auto [graphdef, state] = nnx::split(model);
  return state;
}

// (path, what) of every difference, for exact comparisons.
std::vector<std::pair<std::string, What>> summary(const nnx::StructureError& e) {
  std::vector<std::pair<std::string, What>> out;
  for (const Difference& d : e.differences()) out.emplace_back(d.path.str(), d.what);
  std::sort(out.begin(), out.end());
  return out;
}

// A directory with step 1 = MLP(4 -> 32 -> 2), float32.
struct Saved {
  TempDir dir{"nnx-restore"};
  nnx::models::MLP model = make_mlp({32}, DType::float32, 5);
  State state = nnx::state(model);
  ckpt::CheckpointManager manager{dir.string()};
  Saved() { REQUIRE(manager.save(1, state)); }
};

}  // namespace

TEST_CASE("another width: every shape difference, with the exact message") {
  Saved s;
  const nnx::StructureError e = expect_structure_error([&] { s.manager.restore(1, abstract_mlp({16})); });
  CHECK(summary(e) == std::vector<std::pair<std::string, What>>{
                          {"layers/0/bias", What::shape}, {"layers/0/kernel", What::shape}, {"layers/1/kernel", What::shape}});
  const std::string what = e.what();
  CHECK_CONTAINS(what, "layers/0/kernel: expected float32[4,16], got float32[4,32]");
  CHECK_CONTAINS(what, "layers/0/bias: expected float32[16], got float32[32]");
  CHECK_CONTAINS(what, "layers/1/kernel: expected float32[16,2], got float32[32,2]");
  CHECK_CONTAINS(what, "3 differences");
  CHECK_CONTAINS(what, "shape (3):");
  CHECK_CONTAINS(what, "restoring item 'default' of step 1 from '" + s.dir.string() + "'");
  CHECK_CONTAINS(what, "fix: only shapes differ: the checkpoint was saved from a model of another configuration");
  CHECK_CONTAINS(e.context(), "step 1");
}

TEST_CASE("a missing layer: the target's paths absent from the checkpoint are listed") {
  Saved s;
  // 4 -> 32 -> 2 -> 2: layers 0 and 1 are those of the checkpoint, layer 2 is new.
  const nnx::StructureError e = expect_structure_error([&] { s.manager.restore(1, abstract_mlp({32, 2})); });
  CHECK(summary(e) == std::vector<std::pair<std::string, What>>{{"layers/2/bias", What::missing},
                                                                {"layers/2/kernel", What::missing}});
  CHECK_CONTAINS(e.what(), "missing (2):");
  CHECK_CONTAINS(e.what(), "layers/2/kernel: missing (expected Param float32[2,2], not found)");
  CHECK_CONTAINS(e.what(), "layers/2/bias: missing (expected Param float32[2], not found)");
}

TEST_CASE("an extra layer: checkpoint paths the target lacks are unexpected") {
  TempDir dir("nnx-restore");
  ckpt::CheckpointManager manager(dir.string());
  manager.save(1, nnx::state(make_mlp({32, 2})));
  const nnx::StructureError e = expect_structure_error([&] { manager.restore(1, abstract_mlp({32})); });
  CHECK(summary(e) == std::vector<std::pair<std::string, What>>{{"layers/2/bias", What::unexpected},
                                                                {"layers/2/kernel", What::unexpected}});
  CHECK_CONTAINS(e.what(), "unexpected (2):");
  CHECK_CONTAINS(e.what(), "layers/2/kernel: unexpected (found Param float32[2,2], not expected)");
  CHECK_CONTAINS(e.what(), "fix: the checkpoint holds paths the target does not: pass partial = true");
}

TEST_CASE("another optimizer: the fix names both, as saved and as built") {
  TempDir dir("nnx-restore-optimizer");
  ckpt::CheckpointManager manager(dir.string());
  nnx::models::MLP model = make_mlp({8});
  nnx::Optimizer adam(model, nnx::optim::adam(1e-3));
  manager.save(1, ckpt::Composite().add("model", nnx::state(model)).add("optimizer", nnx::state(adam)));
  nnx::Optimizer sgd(model, nnx::optim::sgd(0.1, 0.9));
  const nnx::StructureError e = expect_structure_error([&] { manager.restore(1, "optimizer", nnx::state(sgd)); });
  CHECK_CONTAINS(e.what(), "fix: the optimizer type differs: the checkpoint holds the state of Adam or AdamW (mu, nu), "
                           "the target that of SGD with momentum (trace)");
}

TEST_CASE("a renamed field is both missing and unexpected") {
  Saved s;
  State target = abstract_mlp({32});
  nnx::Variable bias = target.at("layers/1/bias");
  target.erase(Path::parse("layers/1/bias"));
  target.set(Path{"layers", 1, "offset"}, bias);
  const nnx::StructureError e = expect_structure_error([&] { s.manager.restore(1, target); });
  CHECK(summary(e) == std::vector<std::pair<std::string, What>>{{"layers/1/bias", What::unexpected},
                                                                {"layers/1/offset", What::missing}});
  CHECK_CONTAINS(e.what(), "layers/1/offset: missing (expected Param float32[2], not found)");
  CHECK_CONTAINS(e.what(), "layers/1/bias: unexpected (found Param float32[2], not expected)");
}

TEST_CASE("another dtype fails unless cast_dtypes, which converts") {
  Saved s;
  const State target = abstract_mlp({32}, DType::float64);
  const nnx::StructureError e = expect_structure_error([&] { s.manager.restore(1, target); });
  CHECK(e.differences().size() == 4);
  for (const Difference& d : e.differences()) CHECK(d.what == What::dtype);
  CHECK_CONTAINS(e.what(), "layers/0/kernel: expected float64[4,32], got float32[4,32]");
  CHECK_CONTAINS(e.what(), "cast_dtypes = true");

  const State cast = s.manager.restore(1, target, {.cast_dtypes = true});
  REQUIRE(cast.size() == s.state.size());
  for (const auto& [path, var] : cast) {
    CAPTURE(path.str());
    CHECK(var.value.dtype() == DType::float64);
    CHECK(var.kind() == nnx::Param::static_kind());
    CHECK(nnx::array_equal(var.value, s.state.at(path).value.astype(DType::float64)));
  }
  // The cast State builds a float64 model computing what the float32 one does, up to rounding.
  auto [graphdef, unused] = nnx::split(nnx::eval_shape([] { return make_mlp({32}, DType::float64); }));
  nnx::models::MLP wide = nnx::merge(graphdef, cast);
  const Array x32 = Array::from_values<float>({1, 4}, {0.5f, -1.f, 2.f, 0.25f});
  CHECK(nnx::max_abs_difference(wide(x32.astype(DType::float64)), s.model(x32).astype(DType::float64)) < 1e-5);
  // Casting back down is allowed too.
  CHECK(nnx::state_equal(s.manager.restore(1, abstract_mlp({32}), {.cast_dtypes = true}), s.state));
}

TEST_CASE("another kind: a BatchStat where a Param was saved") {
  Saved s;
  State target = abstract_mlp({32});
  target.set(Path{"layers", 0, "bias"}, nnx::BatchStat(Array::abstract({32}, DType::float32)));
  const nnx::StructureError e = expect_structure_error([&] { s.manager.restore(1, target); });
  CHECK(summary(e) == std::vector<std::pair<std::string, What>>{{"layers/0/bias", What::kind}});
  CHECK(e.differences()[0].expected == "BatchStat");
  CHECK(e.differences()[0].found == "Param");
  CHECK_CONTAINS(e.what(), "layers/0/bias: expected kind BatchStat, got Param");
  CHECK_CONTAINS(e.what(), "1 difference");
  // cast_dtypes and partial do not relax kinds.
  CHECK(expect_structure_error([&] { s.manager.restore(1, target, {.partial = true, .cast_dtypes = true}); })
            .differences()
            .size() == 1);
}

TEST_CASE("several differences at once come in one StructureError") {
  Saved s;
  State target = abstract_mlp({32});
  target.set(Path{"layers", 0, "kernel"}, nnx::Param(Array::abstract({4, 16}, DType::float32)));        // shape
  target.set(Path{"layers", 0, "bias"}, nnx::BatchStat(Array::abstract({32}, DType::float64)));         // kind + dtype
  target.set(Path{"layers", 1, "kernel"}, nnx::Param(Array::abstract({32, 2}, DType::int32)));          // dtype
  target.erase(Path::parse("layers/1/bias"));                                                            // unexpected
  target.set(Path{"head", "w"}, nnx::Param(Array::abstract({2, 2}, DType::float32)));                   // missing
  const nnx::StructureError e = expect_structure_error([&] { s.manager.restore(1, target); });
  CHECK(e.differences().size() == 6);
  CHECK(summary(e) == std::vector<std::pair<std::string, What>>{{"head/w", What::missing},
                                                                {"layers/0/bias", What::kind},
                                                                {"layers/0/bias", What::dtype},
                                                                {"layers/0/kernel", What::shape},
                                                                {"layers/1/bias", What::unexpected},
                                                                {"layers/1/kernel", What::dtype}});
  const std::string what = e.what();
  CHECK_CONTAINS(what, "6 differences");
  for (const char* part : {"missing (1):", "unexpected (1):", "kind (1):", "shape (1):", "dtype (2):",
                           "head/w: missing", "layers/0/bias: expected kind BatchStat, got Param",
                           "layers/0/bias: expected float64[32], got float32[32]",
                           "layers/0/kernel: expected float32[4,16], got float32[4,32]", "layers/1/bias: unexpected",
                           "layers/1/kernel: expected int32[32,2], got float32[32,2]"})
    CHECK_CONTAINS(what, part);
  // Groups in a fixed order: missing, unexpected, kind, shape, dtype.
  CHECK(what.find("missing (1):") < what.find("unexpected (1):"));
  CHECK(what.find("kind (1):") < what.find("shape (1):"));
  CHECK(what.find("shape (1):") < what.find("dtype (2):"));
}

TEST_CASE("partial = true restores a subset, and still fails for paths the checkpoint lacks") {
  Saved s;
  const State subset = abstract_mlp({32}).subtree(Path{"layers", 0});
  State target;
  for (const auto& [path, var] : subset) target.set(Path{"layers", 0} / path, var);
  REQUIRE(target.size() == 2);

  const nnx::StructureError strict = expect_structure_error([&] { s.manager.restore(1, target); });
  CHECK(summary(strict) == std::vector<std::pair<std::string, What>>{{"layers/1/bias", What::unexpected},
                                                                     {"layers/1/kernel", What::unexpected}});

  const State part = s.manager.restore(1, target, {.partial = true});
  CHECK(part.size() == 2);
  CHECK(nnx::state_equal(part, s.state.filter(nnx::PathIn({Path{"layers", 0}}))));  // layers/0/* only
  CHECK(nnx::array_equal(part.at("layers/0/kernel").value, s.model.layers[0].kernel.value));

  target.set(Path{"layers", 5, "kernel"}, nnx::Param(Array::abstract({2, 2}, DType::float32)));
  const nnx::StructureError missing = expect_structure_error([&] { s.manager.restore(1, target, {.partial = true}); });
  CHECK(summary(missing) == std::vector<std::pair<std::string, What>>{{"layers/5/kernel", What::missing}});
}

TEST_CASE("a concrete target is filled with the checkpoint's values and left unchanged itself") {
  Saved s;
  nnx::models::MLP fresh = make_mlp({32}, DType::float32, 77);
  const State target = nnx::state(fresh);
  const State before = nnx::state(nnx::clone(fresh));  // an independent deep copy
  const State restored = s.manager.restore(1, target);
  CHECK(nnx::state_equal(restored, s.state));
  CHECK(nnx::state_equal(target, before));  // copy-on-write: the target's buffers are not written
  CHECK(nnx::state_equal(nnx::state(fresh), before));
  nnx::update(fresh, restored);
  CHECK(nnx::state_equal(nnx::state(fresh), s.state));
}

TEST_CASE("items: restored by name, a missing item names the available ones and the call, a JSON item is not a State") {
  TempDir dir("nnx-restore");
  ckpt::CheckpointManager manager(dir.string());
  const State model = nnx::state(make_mlp({8}));
  manager.save(3, ckpt::Composite().add("model", model).add_json("config", std::string("lr=0.1")));

  const ckpt::CheckpointError missing =
      expect_checkpoint_error([&] { manager.restore(3, ckpt::Composite().add("optimizer", model.as_abstract())); });
  CHECK(missing.code() == ckpt::ErrorCode::not_found);
  CHECK_CONTAINS(missing.what(), "no item 'optimizer'");
  CHECK_CONTAINS(missing.what(), "items: config (json), model (state)");
  const ckpt::CheckpointError no_default = expect_checkpoint_error([&] { manager.restore(3, model.as_abstract()); });
  CHECK(no_default.code() == ckpt::ErrorCode::not_found);
  CHECK_CONTAINS(no_default.what(), "no item 'default'");
  CHECK_CONTAINS(no_default.what(), "restore(step, \"model\", target)");  // the call that works
  CHECK(nnx::state_equal(manager.restore(3, "model", model.as_abstract()), model));
  CHECK_CONTAINS(expect_checkpoint_error([&] { manager.restore_json(3, "nope"); }).what(), "restore_json(step, \"config\")");
  CHECK(expect_checkpoint_error([&] { manager.restore_state(3, "nope"); }).code() == ckpt::ErrorCode::not_found);
  CHECK(expect_checkpoint_error([&] { manager.restore_json(3, "nope"); }).code() == ckpt::ErrorCode::not_found);

  const ckpt::CheckpointError as_state =
      expect_checkpoint_error([&] { manager.restore(3, ckpt::Composite().add("config", model.as_abstract())); });
  CHECK(as_state.code() == ckpt::ErrorCode::usage);
  CHECK_CONTAINS(as_state.what(), "item 'config' of step 3 is a json item, not a state item");
  CHECK(expect_checkpoint_error([&] { manager.restore_state(3, "config"); }).code() == ckpt::ErrorCode::usage);
  CHECK(expect_checkpoint_error([&] { manager.restore_pure_dict(3, "config"); }).code() == ckpt::ErrorCode::usage);
  const ckpt::CheckpointError as_json = expect_checkpoint_error([&] { manager.restore_json(3, "model"); });
  CHECK(as_json.code() == ckpt::ErrorCode::usage);
  CHECK_CONTAINS(as_json.what(), "is a state item, not a json item");

  // Both kinds of item in one call; the JSON value is read as what was saved.
  const ckpt::Composite both =
      manager.restore(3, ckpt::Composite().add("model", model.as_abstract()).add("config", ckpt::JsonItem()));
  CHECK(nnx::state_equal(both.state("model"), model));
  CHECK(both.json("config").get<std::string>() == "lr=0.1");
  CHECK(expect_checkpoint_error([&] { (void)both.json("config").get<std::vector<int>>(); }).code() ==
        ckpt::ErrorCode::corrupted);
  CHECK(expect_checkpoint_error([&] { (void)both.json("model"); }).code() == ckpt::ErrorCode::usage);
}

TEST_CASE("JSON items check their format and version, item names are checked") {
  const ckpt::JsonItem newer =
      ckpt::JsonItem::from_text(R"({"format": "nnx-json-item", "format_version": 9, "value": 1})");
  const ckpt::CheckpointError e = expect_checkpoint_error([&] { newer.validate(); });
  CHECK(e.code() == ckpt::ErrorCode::format);
  CHECK_CONTAINS(e.what(), "upgrade nnx");
  CHECK(expect_checkpoint_error([&] { (void)newer.get<int>(); }).code() == ckpt::ErrorCode::format);
  const ckpt::JsonItem other = ckpt::JsonItem::from_text(R"({"format": "something-else", "format_version": 1, "value": 1})");
  CHECK(expect_checkpoint_error([&] { other.validate(); }).code() == ckpt::ErrorCode::format);
  CHECK(expect_checkpoint_error([&] { ckpt::JsonItem::from_text("{not json").validate(); }).code() ==
        ckpt::ErrorCode::corrupted);
  CHECK(ckpt::JsonItem::from(42).get<int>() == 42);

  for (const char* bad : {"", "_private", ".hidden", "a/b", "sp ace", "é"}) {
    CAPTURE(std::string(bad));
    const ckpt::CheckpointError err = expect_checkpoint_error([&] { ckpt::Composite().add(bad, State{}); });
    CHECK(err.code() == ckpt::ErrorCode::usage);
    CHECK_CONTAINS(err.what(), "is not allowed");
  }
  for (const char* good : {"model", "opt-2", "ema.v1", "A_b"}) CHECK_NOTHROW(ckpt::Composite().add(good, State{}));
  CHECK(expect_checkpoint_error([&] { ckpt::Composite().add("m", State{}).add("m", ckpt::JsonItem()); }).code() ==
        ckpt::ErrorCode::usage);
}
