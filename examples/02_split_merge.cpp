// Lesson 02: split, state, update, merge, clone — the functional API of Flax NNX.
//
// split(module, filters...) takes a module apart into a GraphDef (types, static attributes,
// structure) and one State per filter (typed paths -> Variables). merge(graphdef, states...) builds
// a new module of the original C++ type. Nothing is copied: States share buffers with the module,
// copy-on-write, so a write on one side never shows on the other.
#include <nnx/models.hpp>

#include "lesson.hpp"

// Two heads sharing one encoder: the encoder is stored once in the State.
struct SharedEncoder : nnx::Module {
  std::shared_ptr<nnx::Linear> encoder;
  nnx::Linear head_a, head_b;
  std::shared_ptr<nnx::Linear> encoder_again;  // the same object as `encoder`

  SharedEncoder() = default;  // for merge
  explicit SharedEncoder(nnx::Rngs& rngs)
      : encoder(std::make_shared<nnx::Linear>(4, 8, rngs)), head_a(8, 1, rngs), head_b(8, 3, rngs), encoder_again(encoder) {}
  NNX_FIELDS(encoder, head_a, head_b, encoder_again)
};

int main() {
  nnx::Rngs rngs({{"params", 0}, {"dropout", 1}});
  nnx::models::MLP model({.in = 4, .hidden = {16}, .out = 2, .dropout = 0.2, .batch_norm = true}, rngs);

  lesson::section("split with filters: Param / BatchStat / everything else (RNG state)");
  auto [graphdef, params, batch_stats, rest] = nnx::split(model, nnx::Param{}, nnx::BatchStat{}, nnx::Everything{});
  std::cout << "params:\n" << params << "batch stats:\n" << batch_stats << "rest:\n" << rest;
  lesson::claim(params.size() == 6 && batch_stats.size() == 2 && rest.size() == 2, "6 Params, 2 BatchStats, 2 RNG variables");

  lesson::section("filters must be exhaustive in split; state() selects freely");
  try {
    (void)nnx::split(model, nnx::Param{});
    lesson::claim(false, "split(model, Param) must fail: BatchStats and RNG state match no filter");
  } catch (const nnx::StructureError& e) {
    std::cout << "  error: " << e.what() << "\n";
    lesson::claim(e.differences().size() == 4, "split(model, Param) names the 4 leftover paths");
  }
  nnx::State kernels = nnx::state(model, nnx::All(nnx::Param{}, nnx::PathContains("kernel")));
  lesson::claim(kernels.size() == 2, "state(model, All(Param, PathContains(\"kernel\"))) selects the 2 kernels");

  lesson::section("the GraphDef is pure data: types, attributes, kinds and shapes, sharing");
  std::cout << graphdef;
  nnx::Rngs seed7(7);
  nnx::models::MLP same_shape({.in = 4, .hidden = {16}, .out = 2, .dropout = 0.2, .batch_norm = true}, seed7);
  lesson::claim(nnx::graphdef(same_shape) == graphdef, "another seed, the same structure: equal GraphDefs");
  same_shape.eval();
  lesson::claim(!(nnx::graphdef(same_shape) == graphdef), "eval mode is part of what merge rebuilds, so it differs");

  lesson::section("merge: a new module of the original type");
  // merge default-constructs an MLP and sets every field listed in NNX_FIELDS: declare them all.
  nnx::models::MLP copy = nnx::merge(graphdef, params, batch_stats, rest);
  nnx::Array x = nnx::Array::ones({3, 4}, nnx::DType::float32);
  model.eval();
  copy.eval();
  lesson::claim(nnx::array_equal(copy(x), model(x)), "the merged MLP computes what the original does");

  lesson::section("update: write a State back in place, by path");
  nnx::State doubled = params;
  for (auto& [path, var] : doubled) var.value = nnx::scale(var.value, 2.0);
  nnx::update(model, doubled);
  lesson::claim(nnx::array_equal(model.layers[0].kernel.value, doubled.at("layers/0/kernel").value),
                "model.layers[0].kernel now holds the doubled values");
  lesson::claim(!nnx::array_equal(copy.layers[0].kernel.value, model.layers[0].kernel.value),
                "the merged copy is untouched: values are shared copy-on-write, never aliased");

  lesson::section("update checks every path and names each difference");
  nnx::Rngs other_rngs(0);
  nnx::models::MLP wider({.in = 4, .hidden = {32}, .out = 2}, other_rngs);
  try {
    nnx::update(model, nnx::state(wider, nnx::Param{}));
    lesson::claim(false, "updating with another width must fail");
  } catch (const nnx::StructureError& e) {
    std::cout << "  error: " << e.what() << "\n";
    lesson::claim(e.differences().size() == 3, "three Params differ in shape: each is named");
  }

  lesson::section("clone, and a shared submodule");
  nnx::Rngs r2(3);
  SharedEncoder shared(r2);
  auto [gdef, state] = nnx::split(shared);
  std::cout << state << gdef;
  lesson::claim(!state.contains(nnx::Path::parse("encoder_again/kernel")), "the shared encoder is stored once, at 'encoder'");
  SharedEncoder rebuilt = nnx::merge(gdef, state);
  lesson::claim(rebuilt.encoder.get() == rebuilt.encoder_again.get(), "merge restores the sharing");
  SharedEncoder cloned = nnx::clone(shared);
  lesson::claim(cloned.encoder.get() == cloned.encoder_again.get() && cloned.encoder.get() != shared.encoder.get(),
                "clone copies the module and keeps its internal sharing");
  return 0;
}
