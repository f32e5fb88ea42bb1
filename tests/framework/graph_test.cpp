// split / merge / state / update / graphdef / clone / eval_shape on real modules.
#include <doctest/doctest.h>

#include <memory>
#include <nnx/models.hpp>
#include <sstream>

#include "fixtures.hpp"

using namespace framework_test;

namespace {

using nnx::Array;
using nnx::DType;

nnx::models::MLP make_mlp(std::uint64_t seed = 0, std::int64_t width = 32) {
  nnx::Rngs rngs({{"params", seed}, {"dropout", seed + 1}});
  return nnx::models::MLP({.in = 4, .hidden = {width, width}, .out = 2, .dropout = 0.1}, rngs);
}

Array batch() {
  std::vector<float> v(8 * 4);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i % 7) * 0.25f - 0.5f;
  return Array::from_values<float>({8, 4}, v);
}

// A user-written module: a shared encoder used by two heads, a dict of layers, an attribute.
struct TwoHeads : nnx::Module {
  std::shared_ptr<nnx::Linear> encoder;   // also reachable as `shared_again`
  std::shared_ptr<nnx::Linear> shared_again;
  std::map<std::string, nnx::Linear> heads;
  std::int64_t width = 0;

  TwoHeads() = default;
  explicit TwoHeads(nnx::Rngs& rngs)
      : encoder(std::make_shared<nnx::Linear>(3, 5, rngs)),
        shared_again(encoder),
        heads{{"left", nnx::Linear(5, 1, rngs)}, {"right", nnx::Linear(5, 2, rngs)}},
        width(5) {}
  // Declared out of sorted order on purpose: the State must still be in sorted order.
  NNX_FIELDS(shared_again, heads, encoder, width)
};


}  // namespace

TEST_CASE("split then merge gives a new module with equal values, kinds and metadata") {
  auto model = make_mlp();
  model.layers[0].kernel.metadata["sharding"] = "replicated";
  auto [graphdef, params, rest] = nnx::split(model, nnx::Param{}, nnx::Everything{});
  CHECK(params.size() == 6);
  CHECK(paths_of(rest) == std::vector<std::string>{"dropout/rngs/count", "dropout/rngs/key"});
  CHECK(params.at("layers/0/kernel").meta("sharding") == "replicated");

  nnx::models::MLP copy = nnx::merge(graphdef, params, rest);
  CHECK(nnx::state_equal(nnx::state(copy), nnx::state(model)));
  CHECK(copy.layers[0].kernel.meta("sharding") == "replicated");
  CHECK(copy.layers[0].kernel.kind() == nnx::Param::static_kind());
  model.eval();
  copy.eval();
  CHECK(nnx::array_equal(copy(batch()), model(batch())));
}

TEST_CASE("split shares buffers, writes after split or merge never leak across (copy-on-write)") {
  auto model = make_mlp();
  auto [graphdef, state] = nnx::split(model);
  CHECK(state.at("layers/0/kernel").value.same_buffer(model.layers[0].kernel.value));  // nothing copied
  auto copy = nnx::merge(graphdef, state);
  copy.layers[0].kernel.value.mutable_data<float>()[0] = 42.f;
  CHECK(model.layers[0].kernel.value.data<float>()[0] != 42.f);
  CHECK(state.at("layers/0/kernel").value.data<float>()[0] != 42.f);
}

TEST_CASE("split with non-exhaustive filters names every leftover path") {
  auto model = make_mlp();
  try {
    (void)nnx::split(model, nnx::Param{});
    FAIL("expected an error");
  } catch (const nnx::StructureError& e) {
    std::string msg = e.what();
    CHECK(e.differences().size() == 2);
    CHECK(msg.find("dropout/rngs/count") != std::string::npos);
    CHECK(msg.find("dropout/rngs/key") != std::string::npos);
    CHECK(msg.find("Everything") != std::string::npos);
  }
  CHECK_THROWS_WITH_AS((void)nnx::split(model, nnx::Everything{}, nnx::Param{}),
                       doctest::Contains("must be the last filter"), nnx::Error);
}

TEST_CASE("state selects without the exhaustive rule, several filters give a tuple") {
  auto model = make_mlp();
  CHECK(nnx::state(model, nnx::Param{}).size() == 6);
  CHECK(nnx::state(model, nnx::RngState{}).size() == 2);
  CHECK(nnx::state(model).size() == 8);
  auto [kernels, rngs] = nnx::state(model, nnx::PathContains("kernel"), nnx::WithTag("dropout"));
  CHECK(kernels.size() == 3);
  CHECK(rngs.size() == 2);
}

TEST_CASE("paths keep integer keys and come in sorted depth-first order") {
  auto model = make_mlp();
  auto s = nnx::state(model);
  CHECK(paths_of(s) == std::vector<std::string>{"dropout/rngs/count", "dropout/rngs/key", "layers/0/bias",
                                                "layers/0/kernel", "layers/1/bias", "layers/1/kernel",
                                                "layers/2/bias", "layers/2/kernel"});
  const nnx::Path& p = std::next(s.begin(), 2)->first;
  CHECK(p[1].is_index());
  CHECK(p[1].index() == 0);
}

TEST_CASE("update writes in place by path and checks kinds, shapes and dtypes, listing every difference") {
  auto model = make_mlp(0);
  auto other = make_mlp(7);
  nnx::update(model, nnx::state(other, nnx::Param{}));
  CHECK(nnx::state_equal(nnx::state(model, nnx::Param{}), nnx::state(other, nnx::Param{})));

  auto narrow = make_mlp(0, 16);
  try {
    nnx::update(model, nnx::state(narrow));
    FAIL("expected an error");
  } catch (const nnx::StructureError& e) {
    std::string msg = e.what();
    CHECK(msg.find("layers/1/kernel: expected float32[32,32], got float32[16,16]") != std::string::npos);
    CHECK(msg.find("layers/0/kernel: expected float32[4,32], got float32[4,16]") != std::string::npos);
    CHECK(msg.find("layers/2/kernel: expected float32[32,2], got float32[16,2]") != std::string::npos);
    CHECK(e.differences().size() == 5);  // three kernels and two hidden biases
  }
  nnx::State wrong;
  wrong.set(nnx::Path::parse("layers/0/bias"), nnx::BatchStat(Array::zeros({32}, DType::float32)));
  wrong.set(nnx::Path::parse("layers/9/kernel"), nnx::Param(Array::zeros({2, 2}, DType::float32)));
  wrong.set(nnx::Path::parse("layers/1/bias"), nnx::Param(Array::zeros({32}, DType::float64)));
  wrong.set(nnx::Path::parse("layers/2/bias"), nnx::Param(Array::abstract({2}, DType::float32)));
  try {
    nnx::update(model, wrong);
    FAIL("expected an error");
  } catch (const nnx::StructureError& e) {
    std::string msg = e.what();
    CHECK(msg.find("layers/0/bias: expected kind Param, got BatchStat") != std::string::npos);
    CHECK(msg.find("layers/9/kernel: unexpected") != std::string::npos);
    CHECK(msg.find("layers/1/bias: expected float32[32], got float64[32]") != std::string::npos);
    CHECK(msg.find("layers/2/bias: expected a concrete array, got float32[2] (abstract)") != std::string::npos);
  }
}

TEST_CASE("merge refuses States that do not fit, naming missing and mismatched paths") {
  auto model = make_mlp();
  auto [graphdef, params, rest] = nnx::split(model, nnx::Param{}, nnx::Everything{});
  CHECK_THROWS_WITH_AS((void)nnx::merge(graphdef, params), doctest::Contains("dropout/rngs/key: missing"),
                       nnx::StructureError);
  CHECK_THROWS_WITH_AS((void)nnx::merge(graphdef, params, rest, params),
                       doctest::Contains("more than one State"), nnx::StructureError);
  auto wide = make_mlp(0, 64);
  CHECK_THROWS_WITH_AS((void)nnx::merge(graphdef, nnx::state(wide)),
                       doctest::Contains("layers/1/kernel: expected float32[32,32], got float32[64,64]"),
                       nnx::StructureError);
  nnx::GraphDef<nnx::models::MLP> empty;
  CHECK_THROWS_WITH_AS((void)nnx::merge(empty, params, rest), doctest::Contains("empty"), nnx::Error);
}

TEST_CASE("a shared submodule is stored once, at its first sorted path, and merge restores the sharing") {
  nnx::Rngs rngs(0);
  TwoHeads model(rngs);
  auto [graphdef, state] = nnx::split(model);
  CHECK(paths_of(state) == std::vector<std::string>{"encoder/bias", "encoder/kernel", "heads/left/bias",
                                                    "heads/left/kernel", "heads/right/bias", "heads/right/kernel"});
  std::ostringstream g;
  g << graphdef;
  CHECK(g.str().find("shared_again: shared with encoder") != std::string::npos);
  CHECK(g.str().find("width = 5") != std::string::npos);

  TwoHeads merged = nnx::merge(graphdef, state);
  CHECK(merged.encoder.get() == merged.shared_again.get());
  CHECK(merged.encoder.get() != model.encoder.get());
  CHECK(nnx::state_equal(nnx::state(merged), state));

  TwoHeads cloned = nnx::clone(model);
  CHECK(cloned.encoder.get() == cloned.shared_again.get());
  CHECK(cloned.encoder.get() != model.encoder.get());
  cloned.encoder->kernel.value.mutable_data<float>()[0] = 9.f;
  CHECK(model.encoder->kernel.value.data<float>()[0] != 9.f);
  CHECK(cloned.shared_again->kernel.value.data<float>()[0] == 9.f);
}

TEST_CASE("train() and eval() reach every submodule, shared ones included") {
  nnx::Rngs rngs(0);
  TwoHeads model(rngs);
  model.eval();
  CHECK(!model.encoder->is_training());
  CHECK(!model.heads.at("right").is_training());
  model.train();
  CHECK(model.shared_again->is_training());
}

TEST_CASE("GraphDef records types and static attributes, equal structure compares equal") {
  auto a = make_mlp(0), b = make_mlp(5), c = make_mlp(0, 16);
  CHECK(nnx::graphdef(a) == nnx::graphdef(b));
  CHECK(!(nnx::graphdef(a) == nnx::graphdef(c)));
  std::ostringstream s;
  s << nnx::graphdef(a);
  for (const char* part : {"GraphDef MLP", "0: Linear", "in_features = 4", "rate = 0.1", "activation = relu",
                           "key: RngKey"})
    CHECK_MESSAGE(s.str().find(part) != std::string::npos, part);
}

TEST_CASE("a field listed twice is an error naming it") {
  struct Twice : nnx::Module {
    nnx::Param w{Array::zeros({1}, DType::float32)};
    void visit(nnx::Visitor& v) override {
      v("w", w);
      v("w", w);
    }
    NNX_MODULE_FACTORY()
  } twice;
  CHECK_THROWS_WITH_AS((void)nnx::state(twice), doctest::Contains("field 'w' is listed twice"), nnx::Error);
}

TEST_CASE("eval_shape + split + merge is the restore cycle: abstract target, concrete values, same outputs") {
  auto trained = make_mlp(3);
  nnx::State saved = nnx::state(trained);  // what a checkpoint would hold

  auto abstract = nnx::eval_shape([] { return make_mlp(0); });
  auto [graphdef, abstract_state] = nnx::split(abstract);
  CHECK(abstract_state.has_abstract());
  CHECK(nnx::compare_structure(abstract_state, saved).empty());
  CHECK_THROWS_AS((void)abstract.layers[0].kernel.value.data<float>(), nnx::Error);

  nnx::State restored = abstract_state;
  restored.replace_by_pure_dict(saved.to_pure_dict());
  auto model = nnx::merge(graphdef, restored);
  model.eval();
  trained.eval();
  CHECK(nnx::array_equal(model(batch()), trained(batch())));
  CHECK(nnx::state_equal(nnx::state(model), saved));
}

TEST_CASE("eval_shape leaves everything outside it as it was: a captured Rngs, a real model's BatchNorm and dropout") {
  const nnx::models::MLPConfig config{.in = 4, .hidden = {8}, .out = 2, .dropout = 0.1, .batch_norm = true};
  nnx::Rngs rngs({{"params", 0}, {"dropout", 1}});
  auto abstract = nnx::eval_shape([&] { return nnx::models::MLP(config, rngs); });  // captures the real Rngs
  CHECK(nnx::state(abstract).has_abstract());
  CHECK(rngs.stream("params").current_count() == 0);
  CHECK(rngs.stream("dropout").current_count() == 0);
  nnx::models::MLP after(config, rngs);
  nnx::Rngs fresh({{"params", 0}, {"dropout", 1}});
  nnx::models::MLP without(config, fresh);
  CHECK(nnx::state_equal(nnx::state(after), nnx::state(without)));  // bitwise
  CHECK(nnx::state_equal(nnx::state(rngs), nnx::state(fresh)));

  // A real model run inside eval_shape: its running statistics and dropout stream do not move.
  const nnx::State before = nnx::state(after);
  auto out = nnx::eval_shape([&] { return after(batch()); });
  CHECK(out.is_abstract());
  CHECK(nnx::state_equal(nnx::state(after), before));
  CHECK_FALSE(nnx::state(after).has_abstract());
}

namespace {
struct Base : nnx::Module {
  nnx::Param w{Array::zeros({2}, DType::float32)};
  NNX_FIELDS(w)
};
struct Derived : Base {
  std::string note = "declared";
  std::string undeclared = "default";  // not in NNX_FIELDS: merge does not carry it
  NNX_FIELDS(w, note)
};
}  // namespace

TEST_CASE("merge builds from pure data: the C++ type is checked, undeclared fields are not carried") {
  Derived d;
  d.note = "changed";
  d.undeclared = "changed";
  const Base& as_base = d;
  auto [base_graphdef, state] = nnx::split(as_base);  // a GraphDef<Base> whose root is a Derived
  CHECK_THROWS_WITH_AS((void)nnx::merge(base_graphdef, state), doctest::Contains("describes a"), nnx::Error);

  auto [graphdef, same] = nnx::split(d);
  Derived back = nnx::merge(graphdef, same);
  CHECK(back.note == "changed");         // a declared attribute, parsed back from the GraphDef
  CHECK(back.undeclared == "default");   // never travels: no prototype object hides inside a GraphDef
}

TEST_CASE("GraphDef equality means 'merges into the same thing': attributes, training mode, shapes") {
  auto a = make_mlp(0), b = make_mlp(7);
  CHECK(nnx::graphdef(a) == nnx::graphdef(b));
  b.eval();
  CHECK_FALSE(nnx::graphdef(a) == nnx::graphdef(b));
  auto [graphdef, state] = nnx::split(b);
  nnx::models::MLP merged = nnx::merge(graphdef, state);
  CHECK_FALSE(merged.is_training());                       // the recorded mode comes back
  CHECK_FALSE(merged.layers[1].is_training());
  CHECK(merged.activation == b.activation);
  CHECK(nnx::graphdef(merged) == graphdef);                // and the merged object describes itself alike

  nnx::Rngs rngs({{"params", 3}, {"dropout", 4}});
  (void)rngs.params();
  auto [rgraph, rstate] = nnx::split(rngs);
  nnx::Rngs rebuilt = nnx::merge(rgraph, rstate);          // streams are rebuilt from the GraphDef
  CHECK(rebuilt.stream_names() == rngs.stream_names());
  CHECK(rebuilt.params() == rngs.params());
}

TEST_CASE("an Optimizer or DataLoader built by merge refuses to run instead of running without its function or data") {
  auto model = make_mlp();
  nnx::Optimizer opt(model, nnx::optim::sgd(0.1));
  auto [graphdef, state] = nnx::split(opt);
  nnx::Optimizer merged = nnx::merge(graphdef, state);
  CHECK(merged.num_steps() == 0);
  CHECK_THROWS_WITH_AS(merged.update(model, nnx::grad(model, [&](auto& m) { return nnx::mean(m(batch())); })),
                       doctest::Contains("construct it with nnx::Optimizer(model, tx)"), nnx::Error);
}
