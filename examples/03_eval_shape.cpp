// Lesson 03: eval_shape — the structure of a model without its memory.
//
// eval_shape(f) runs a constructor in a mode where every Array is abstract: shape and dtype, no
// buffer. It is how a checkpoint restore target is built: the abstract State says exactly which
// paths, kinds, shapes and dtypes to expect, before a single parameter is read.
#include <nnx/models.hpp>

#include "lesson.hpp"

int main() {
  auto make_model = [] {
    nnx::Rngs rngs({{"params", 0}, {"dropout", 1}});
    return nnx::models::MLP({.in = 1024, .hidden = {32768, 32768}, .out = 10, .dropout = 0.1}, rngs);
  };

  lesson::section("a 1.1-billion-parameter MLP that costs no memory");
  auto abstract = nnx::eval_shape(make_model);
  auto [graphdef, abstract_state] = nnx::split(abstract);
  std::cout << abstract_state;
  lesson::claim(abstract.num_parameters() > 1'000'000'000, "more than 1e9 parameters");
  lesson::claim(abstract_state.has_abstract(), "every leaf is abstract (shape + dtype only)");
  std::cout << "  a concrete model would need " << abstract_state.num_bytes() / (1 << 20) << " MiB\n";

  lesson::section("reading an abstract value is an error that says why");
  try {
    (void)abstract.layers[0].kernel.value.data<float>();
    lesson::claim(false, "reading an abstract array must fail");
  } catch (const nnx::Error& e) {
    std::cout << "  error: " << e.what() << "\n";
    lesson::claim(std::string(e.what()).find("abstract") != std::string::npos, "the error says the array is abstract");
  }

  lesson::section("what it is for: a restore target");
  // A small model stands in for one saved earlier; the restore itself comes with the checkpoint lessons.
  auto small = [] {
    nnx::Rngs rngs(0);
    return nnx::models::MLP({.in = 4, .hidden = {8}, .out = 2}, rngs);
  };
  nnx::Rngs other(99);
  nnx::models::MLP trained({.in = 4, .hidden = {8}, .out = 2}, other);  // "trained" weights
  nnx::State saved = nnx::state(trained);

  auto [gdef, target] = nnx::split(nnx::eval_shape(small));
  lesson::claim(nnx::compare_structure(target, saved).empty(), "the abstract target matches what was saved, path by path");
  target.replace_by_pure_dict(saved.to_pure_dict());  // fill the target with the saved values
  nnx::models::MLP restored = nnx::merge(gdef, target);
  nnx::Array x = nnx::Array::ones({2, 4}, nnx::DType::float32);
  lesson::claim(nnx::array_equal(restored(x), trained(x)), "the model built from the target gives the saved model's outputs");
  return 0;
}
