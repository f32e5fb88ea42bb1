// Lesson 05: restoring without a target — plain nested maps — and turning them back into a State.
//
// The Flax guide's alternative. Without a target, a checkpoint comes back as a pure dict: nested
// maps of Arrays. In nnx a PureDict is a view of the one tree type, State: restoring it converts
// nothing, and each leaf remembers the kind it was saved with. Two ways to get a typed model back:
//   (a) replace_by_pure_dict: pour the dict into an abstract State from eval_shape (kinds come from
//       the target; paths, shapes and dtypes are checked), then merge;
//   (b) from_pure_dict: the dict's own State, kinds as saved (BatchStats stay BatchStats), then merge.
// Prefer the target-based restore of lesson 04; reach for the dict when the saved structure is not
// exactly your model's — you can inspect it, rename keys, drop parts, then rebuild.
#include <boost/filesystem.hpp>
#include <nnx/checkpoint.hpp>
#include <nnx/models.hpp>

#include "lesson.hpp"

namespace ckpt = nnx::checkpoint;

int main() {
  const std::string dir = (boost::filesystem::temp_directory_path() / "nnx-lesson-05").string();
  boost::filesystem::remove_all(dir);
  auto make = [] {
    nnx::Rngs rngs(7);
    return nnx::models::MLP({.in = 3, .hidden = {16}, .out = 2, .batch_norm = true}, rngs);
  };
  nnx::models::MLP model = make();
  {
    ckpt::CheckpointManager manager(dir);
    manager.save(1, nnx::state(model));
  }
  ckpt::CheckpointManager manager(dir, {.read_only = true});

  lesson::section("restore with no target: a pure dict");
  nnx::PureDict dict = manager.restore_pure_dict();
  std::cout << dict;
  lesson::claim(dict.at("layers").at(0).at("kernel").is_leaf(), "d[\"layers\"][0][\"kernel\"] is a plain Array");
  lesson::claim(dict.at("layers").keys().front().is_index(), "the layer index is the integer 0, not the string \"0\"");

  lesson::section("(a) replace_by_pure_dict into an abstract State, then merge");
  auto [graphdef, target] = nnx::split(nnx::eval_shape(make));
  target.replace_by_pure_dict(dict);
  nnx::models::MLP restored = nnx::merge(graphdef, target);
  const nnx::Array x = nnx::Array::ones({2, 3}, nnx::DType::float32);
  model.eval();
  restored.eval();
  lesson::claim(nnx::array_equal(restored(x), model(x)), "the rebuilt model gives the saved model's outputs");

  lesson::section("(b) from_pure_dict: the dict's own State, kinds as saved");
  nnx::State state = nnx::State::from_pure_dict(dict);
  lesson::claim(state.at("norms/0/mean").kind() == nnx::BatchStat::static_kind(), "norms/0/mean is still a BatchStat");
  nnx::models::MLP rebuilt = nnx::merge(graphdef, state);  // kinds fit the GraphDef: merge accepts it
  rebuilt.eval();
  lesson::claim(nnx::array_equal(rebuilt(x), model(x)), "merge(graphdef, from_pure_dict(dict)) is the saved model");

  lesson::section("when the dict is the right tool: the code renamed a layer");
  // Suppose the new code calls the output layer "head" in a dict of its own. Edit the dict:
  nnx::PureDict edited = dict;
  edited["head"]["kernel"] = dict.at("layers").at(1).at("kernel");
  edited["head"]["bias"] = dict.at("layers").at(1).at("bias");
  edited["layers"].erase(1);
  std::cout << edited;
  lesson::claim(edited.find(nnx::Path{"head", "kernel"}) && !edited.find(nnx::Path{"layers", 1}),
                "the dict now has the new layout; replace_by_pure_dict into the new model's target takes it from here");
  boost::filesystem::remove_all(dir);
  return 0;
}
