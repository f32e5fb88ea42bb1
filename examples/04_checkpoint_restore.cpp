// Lesson 04: checkpoint and restore, the recommended way.
//
// Save the model's State. To restore, build the structure of the model without its memory
// (eval_shape), split it into GraphDef + abstract State, restore the checkpoint INTO that abstract
// State — which checks every path, kind, shape and dtype — and merge. The result is a typed
// model, equal to the one saved.
#include <boost/filesystem.hpp>
#include <nnx/checkpoint.hpp>
#include <nnx/models.hpp>

#include "lesson.hpp"

namespace ckpt = nnx::checkpoint;

namespace {
nnx::models::MLP make_model(std::uint64_t seed) {
  nnx::Rngs rngs({{"params", seed}, {"dropout", seed + 1}});
  return nnx::models::MLP({.in = 4, .hidden = {32, 32}, .out = 2, .dropout = 0.1, .batch_norm = true}, rngs);
}
}  // namespace

int main() {
  const std::string dir = (boost::filesystem::temp_directory_path() / "nnx-lesson-04").string();
  boost::filesystem::remove_all(dir);

  lesson::section("save: a State is what gets saved");
  nnx::models::MLP model = make_model(0);
  const nnx::Array x = nnx::init::normal(1.0)(nnx::key_from_seed(1), {8, 4}, nnx::DType::float32);
  (void)model(x);  // a forward pass in training mode: BatchStats move, dropout draws — state to keep
  {
    ckpt::CheckpointManager manager(dir);
    manager.save(100, nnx::state(model));
    std::cout << "  saved step 100 to " << dir << " — try: build/bin/nnx-ckpt show " << dir << "\n";
  }

  lesson::section("restore: eval_shape -> split -> restore(latest_step, abstract_state) -> merge");
  ckpt::CheckpointManager manager(dir, {.read_only = true});  // e.g. a new process, later
  auto abstract = nnx::eval_shape([] { return make_model(123); });  // seed irrelevant: no values are drawn
  auto [graphdef, abstract_state] = nnx::split(abstract);
  lesson::claim(abstract_state.has_abstract(), "the target holds shapes and dtypes, no memory");
  nnx::State restored = manager.restore(manager.latest_step(), abstract_state);
  nnx::models::MLP loaded = nnx::merge(graphdef, restored);

  lesson::claim(nnx::state_equal(nnx::state(loaded), nnx::state(model)), "every variable is bitwise the saved one");
  model.eval();
  loaded.eval();
  lesson::claim(nnx::array_equal(loaded(x), model(x)), "the restored model computes exactly what the saved one does");
  lesson::claim(loaded.norms[0].mean.kind() == nnx::BatchStat::static_kind(), "kinds survive: norms/0/mean is a BatchStat");
  lesson::claim(restored.contains(nnx::Path{"layers", 0, "kernel"}) && !restored.contains(nnx::Path{"layers", "0", "kernel"}),
                "integer keys stay integers: layers/0/kernel has the integer 0, not the string \"0\"");
  boost::filesystem::remove_all(dir);
  return 0;
}
