// The smallest program that uses nnx from another project: build a model, checkpoint it with a
// JSON note (the opt-in <nnx/checkpoint/json.hpp>, target nnx::checkpoint_json), restore it into an
// abstract target, and check that the copy computes the same outputs and the note comes back.
#include <cstdio>
#include <filesystem>
#include <nnx/checkpoint.hpp>
#include <nnx/checkpoint/json.hpp>
#include <nnx/models.hpp>

int main() {
  const auto dir = std::filesystem::temp_directory_path() / "nnx-consumer";
  std::filesystem::remove_all(dir);
  auto make = [] {
    nnx::Rngs rngs(0);
    return nnx::models::MLP({.in = 3, .hidden = {8}, .out = 2}, rngs);
  };
  auto model = make();
  nnx::checkpoint::CheckpointManager manager(dir.string());
  manager.save(1, nnx::checkpoint::Composite().add(nnx::checkpoint::kDefaultItem, nnx::state(model)).add_json("note", 7));
  auto [graphdef, target] = nnx::split(nnx::eval_shape(make));
  auto restored = nnx::merge(graphdef, manager.restore(manager.latest_step(), target));
  const nnx::Array x = nnx::Array::ones({1, 3}, nnx::DType::float32);
  const bool same = nnx::array_equal(restored(x), model(x)) && manager.restore_json(1, "note").get<int>() == 7;
  std::printf("consumer: restored model and note %s\n", same ? "matches" : "DIFFERS");
  manager.close();
  std::filesystem::remove_all(dir);
  return same ? 0 : 1;
}
