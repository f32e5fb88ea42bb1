// Resumable: a whole training run (model with dropout, optimizer, data position, a JSON item)
// saved and resumed in one call each, ending bitwise where an uninterrupted run ends.
#include <doctest/doctest.h>

#include <cereal/types/string.hpp>
#include <nnx/checkpoint/json.hpp>
#include <optional>
#include <string>

#include "fixtures.hpp"

using namespace checkpoint_test;

namespace {

struct Notes {
  std::string text;
  std::int64_t saves = 0;
  template <class A> void serialize(A& ar) { ar(cereal::make_nvp("text", text), cereal::make_nvp("saves", saves)); }
};

// One training run: built fresh from the seed, resumed from `dir` when it holds a step, trained
// to `until`, saving every 4 steps. Returns the model's final state.
State train(const std::string& dir, std::int64_t until, std::optional<std::int64_t>* resumed = nullptr) {
  nnx::Rngs rngs({{"params", 0}, {"dropout", 1}, {"data", 2}});
  const nnx::Dataset data = nnx::datasets::two_spirals(200, 0.05, nnx::key_from_seed(3));
  nnx::models::MLP model({.in = 2, .hidden = {16}, .out = 2, .dropout = 0.2}, rngs);
  nnx::Optimizer optimizer(model, nnx::optim::adam(1e-2));
  nnx::DataLoader loader(data, 32, rngs);
  Notes notes{"fresh", 0};
  ckpt::CheckpointManager manager(dir, {.max_to_keep = 3});
  ckpt::Resumable run(manager);
  run.add("model", model).add("optimizer", optimizer).add("data", loader).add_json("notes", notes);
  const std::int64_t start = run.resume_or_start().value_or(0);
  if (resumed) *resumed = run.resumed_from();
  CHECK(optimizer.num_steps() == start);
  for (std::int64_t step = start + 1; step <= until; ++step) {
    const nnx::Batch b = loader.next();
    nnx::train_step(model, optimizer, [&](nnx::models::MLP& m) { return nnx::softmax_cross_entropy(m(b.x), b.y); });
    if (step % 4 == 0) {
      notes = {"saved at " + std::to_string(step), notes.saves + 1};
      CHECK(run.save(step).committed());
    }
  }
  return nnx::state(model);
}

}  // namespace

TEST_CASE("Resumable: stopped at any step and resumed, the run ends bitwise equal to an uninterrupted one") {
  TempDir reference("nnx-resumable-ref");
  const State uninterrupted = train(reference.string(), 20);
  for (const std::int64_t stop : {3, 9, 12}) {  // before the first save, between saves, right at a save
    CAPTURE(stop);
    TempDir dir("nnx-resumable");
    std::optional<std::int64_t> resumed;
    (void)train(dir.string(), stop, &resumed);
    CHECK_FALSE(resumed.has_value());
    const State finished = train(dir.string(), 20, &resumed);
    CHECK(resumed == (stop < 4 ? std::nullopt : std::optional<std::int64_t>(stop / 4 * 4)));
    CHECK(nnx::state_equal(finished, uninterrupted));
  }
  // The JSON item came back too: the last save's notes.
  ckpt::CheckpointManager reader(reference.string(), {.read_only = true});
  const Notes notes = reader.restore_json(std::nullopt, "notes").get<Notes>();
  CHECK(notes.text == "saved at 20");
  CHECK(notes.saves == 5);
}

TEST_CASE("Resumable: a damaged latest step is skipped and set aside, the run still ends bitwise equal") {
  TempDir reference("nnx-resumable-ref");
  const State uninterrupted = train(reference.string(), 16);
  TempDir dir("nnx-resumable-damaged");
  (void)train(dir.string(), 13);
  flip_byte(dir.file("12") + "/model.nnxa", Path{"layers", 0, "kernel"});
  std::optional<std::int64_t> resumed;
  const State finished = train(dir.string(), 16, &resumed);
  CHECK(resumed == 8);  // 12 was damaged
  CHECK(nnx::state_equal(finished, uninterrupted));
  bool set_aside = false;
  for (const auto& name : entries(dir)) set_aside = set_aside || name.rfind("12.nnx-damaged-", 0) == 0;
  CHECK(set_aside);
}

TEST_CASE("Resumable: names are checked, nothing tracked is an error, another model is a StructureError") {
  TempDir dir("nnx-resumable-usage");
  nnx::Rngs rngs(0);
  nnx::models::MLP model({.in = 2, .hidden = {4}, .out = 2}, rngs);
  ckpt::CheckpointManager manager(dir.string());
  ckpt::Resumable run(manager);
  CHECK_CONTAINS(expect_checkpoint_error([&] { run.save(1, {}, true); }).what(), "nothing tracked");
  CHECK_FALSE(run.resume_or_start().has_value());  // an empty directory: start from scratch
  run.add("model", model);
  CHECK_CONTAINS(expect_checkpoint_error([&] { run.add("model", model); }).what(), "already tracked");
  CHECK(expect_checkpoint_error([&] { run.add("_bad", model); }).code() == ckpt::ErrorCode::usage);
  CHECK(run.save(1));
  nnx::models::MLP wider({.in = 2, .hidden = {5}, .out = 2}, rngs);
  ckpt::Resumable other(manager);
  other.add("model", wider);
  const State before = nnx::state(wider);
  expect_structure_error([&] { other.resume_or_start(); });
  CHECK(nnx::state_equal(nnx::state(wider), before));  // a failed resume changes nothing
}
