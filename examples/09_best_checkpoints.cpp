// Lesson 09: which checkpoints to keep — the most recent, the best by a metric, one per period.
//
// Retention is applied after each save, only once the new step is committed. With best_metric
// (or best_fn, any score computed from the metrics), max_to_keep keeps the best steps by it; the
// latest step is always kept too (a resumed run needs it). keep_period keeps every N-th step
// forever, whatever else happens. best_metric is recorded in the directory: a reader that is not
// told it (another program, nnx-ckpt list) still knows the best step.
#include <boost/filesystem.hpp>
#include <nnx/checkpoint.hpp>
#include <nnx/models.hpp>

#include "lesson.hpp"

namespace ckpt = nnx::checkpoint;

int main() {
  const std::string dir = (boost::filesystem::temp_directory_path() / "nnx-lesson-09").string();
  boost::filesystem::remove_all(dir);
  nnx::Rngs rngs({{"params", 0}, {"data", 1}});
  const auto [train, validation] = nnx::datasets::blobs(1200, 4, 2, 1.5, nnx::key_from_seed(5)).split(0.75);
  nnx::models::MLP model({.in = 2, .hidden = {32}, .out = 4}, rngs);
  nnx::Optimizer opt(model, nnx::optim::sgd(0.2, 0.9));
  nnx::DataLoader loader(train, 32, rngs);

  ckpt::CheckpointManager manager(dir, {.max_to_keep = 3,
                                        .keep_period = 400,
                                        .save_interval_steps = 50,
                                        .best_metric = "val_loss",
                                        .best_mode = ckpt::BestMode::min});
  lesson::section("train 600 steps, offering a checkpoint every step: should_save picks every 50th");
  std::map<std::int64_t, double> val_loss;
  for (std::int64_t step = 1; step <= 600; ++step) {
    const nnx::Batch b = loader.next();
    nnx::train_step(model, opt, [&](nnx::models::MLP& m) { return nnx::softmax_cross_entropy(m(b.x), b.y); });
    if (!manager.should_save(step)) continue;
    const double loss = nnx::evaluate(model, validation, nnx::softmax_cross_entropy).loss;
    manager.save(step, nnx::state(model), {{"val_loss", loss}});
    val_loss[step] = loss;
  }
  for (const auto& [step, loss] : val_loss) std::cout << "  step " << step << ": val_loss " << loss << "\n";

  lesson::section("what is left");
  const auto steps = manager.all_steps();
  for (auto s : steps) std::cout << "  kept step " << s << "\n";
  std::vector<std::pair<double, std::int64_t>> ranked;
  for (const auto& [step, loss] : val_loss) ranked.emplace_back(loss, step);
  std::sort(ranked.begin(), ranked.end());
  auto kept = [&](std::int64_t s) { return std::find(steps.begin(), steps.end(), s) != steps.end(); };
  lesson::claim(kept(ranked[0].second) && kept(ranked[1].second) && kept(ranked[2].second),
                "the three best steps by val_loss are kept (max_to_keep = 3 with best_metric)");
  lesson::claim(kept(400), "step 400 is kept by keep_period = 400");
  lesson::claim(kept(600), "the latest step is always kept");
  lesson::claim(steps.size() <= 5, "everything else was deleted (after the newer steps committed)");
  lesson::claim(manager.best_step() == ranked[0].second, "best_step() names the best");
  const ckpt::CheckpointManager reader(dir, {.read_only = true});  // told nothing about metrics
  lesson::claim(reader.best_step() == ranked[0].second && reader.best_policy() == "min val_loss",
                "a reader finds the same best step from the directory's record (" + reader.best_policy() + ")");

  lesson::section("restore the best");
  nnx::State best = manager.restore(manager.best_step(), nnx::state(model));
  std::cout << "  restored step " << *manager.best_step() << ": " << best.num_elements() << " parameters\n";
  lesson::claim(best.size() == nnx::state(model).size(), "the best step restores like any other");
  boost::filesystem::remove_all(dir);
  return 0;
}
