// Lesson 07: train, checkpoint, be killed, resume — and end bitwise where an uninterrupted run ends.
//
//   build/bin/07_train_resume --dir /tmp/run --steps 3000 --save-every 200 [--seed 0] [--async] [--threads 2]
//
// On start it resumes from the latest committed step when there is one: model (including the
// Dropout's RNG stream), optimizer (moments and step), data loader (epoch, position, key). It
// saves every --save-every steps, keeping the 3 most recent plus the best by validation accuracy.
// SIGINT / SIGTERM: it saves the current step and exits cleanly. SIGKILL: at most the steps since
// the last committed save are lost, and the next start redoes them identically. A damaged latest
// step (a flipped byte, a truncated file) costs the steps since the save before it, never the
// run: the restore falls back to the newest intact step and sets the damaged ones aside.
// Beside the checkpoints, <dir>/metrics.jsonl logs the training loss every 20 steps and the
// validation metrics at each save (pandas.read_json(path, lines=True) reads it;
// `nnx-ckpt plot DIR -o curves.svg` draws it).
#include <CLI/CLI.hpp>
#include <csignal>
#include <iostream>
#include <nnx/checkpoint.hpp>
#include <nnx/checkpoint/json.hpp>
#include <nnx/models.hpp>

namespace ckpt = nnx::checkpoint;

namespace {
volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

struct Progress {  // a JSON item: human-readable context next to the arrays
  std::int64_t step = 0, epoch = 0;
  double val_accuracy = 0;
  template <class A> void serialize(A& ar) {
    ar(cereal::make_nvp("step", step), cereal::make_nvp("epoch", epoch), cereal::make_nvp("val_accuracy", val_accuracy));
  }
};

nnx::models::MLP make_model(nnx::Rngs& rngs) {
  return nnx::models::MLP({.in = 2, .hidden = {64, 64}, .out = 2, .dropout = 0.1}, rngs);
}
}  // namespace

int run(int argc, char** argv) {
  CLI::App app{"Lesson 07: train an MLP on two spirals with checkpoints, and resume exactly"};
  std::string dir;
  std::int64_t steps = 3000, save_every = 200;
  std::uint64_t seed = 0;
  bool async = false;
  int threads = 1;
  app.add_option("--dir", dir, "checkpoint directory")->required();
  app.add_option("--steps", steps, "train until this step")->check(CLI::Range(std::int64_t{1}, std::int64_t{100'000'000}));
  app.add_option("--save-every", save_every, "save every N steps")->check(CLI::Range(std::int64_t{1}, std::int64_t{100'000'000}));
  app.add_option("--seed", seed, "seed of parameters, dropout and data order");
  app.add_flag("--async", async, "save in the background");
  app.add_option("--threads", threads, "threads for matrix products")->check(CLI::Range(1, 64));
  CLI11_PARSE(app, argc, argv);
  nnx::set_num_threads(threads);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);

  // Everything random derives from the seed: the same seed gives the same run on any machine.
  nnx::Rngs rngs({{"params", seed}, {"dropout", seed + 1}, {"data", seed + 2}});
  const nnx::Dataset all = nnx::datasets::two_spirals(2000, 0.02, nnx::key_from_seed(seed + 3));
  const auto [train, validation] = all.split(0.8);
  nnx::models::MLP model = make_model(rngs);
  nnx::Optimizer optimizer(model, nnx::optim::adam(3e-3));
  nnx::DataLoader loader(train, 64, rngs);

  ckpt::CheckpointManager manager(dir, {.max_to_keep = 3,
                                        .best_metric = "val_accuracy",
                                        .best_mode = ckpt::BestMode::max,
                                        .cleanup_tmp_directories = true,
                                        .enable_async_checkpointing = async});
  // Everything the run must resume exactly, saved and restored in one call each: the model (with
  // the Dropout's RNG stream), the optimizer (moments and step), the data loader (epoch, position,
  // key) and a human-readable JSON item.
  Progress status;
  ckpt::Resumable run(manager);
  run.add("model", model).add("optimizer", optimizer).add("data", loader).add_json("progress", status);
  // The latest step, or, when it is damaged, the newest one that restores: stderr says which was
  // skipped and where it was set aside (kept, unlisted), so its step number can be saved again.
  if (const auto resumed = run.resume_or_start())
    std::cout << "resumed from step " << *resumed << " (" << dir << ")\n";
  else
    std::cout << "starting from scratch (" << dir << ")\n";

  auto save = [&](std::int64_t step, bool force) {
    const nnx::Evaluation val = nnx::evaluate(model, validation, nnx::softmax_cross_entropy);
    status = Progress{step, loader.epoch(), val.accuracy};
    const ckpt::SaveResult saved = run.save(step, {{"val_accuracy", val.accuracy}, {"val_loss", val.loss}}, force);
    if (saved)
      std::cout << (saved.committed() ? "saved step " : "saving step ") << step << " (validation accuracy " << val.accuracy
                << ")" << std::endl;
  };

  nnx::Progress progress(steps, {.label = "07"});
  for (std::int64_t step = optimizer.num_steps() + 1; step <= steps; ++step) {
    const nnx::Batch batch = loader.next();
    const nnx::Array loss = nnx::train_step(model, optimizer, [&](nnx::models::MLP& m) {
      return nnx::softmax_cross_entropy(m(batch.x), batch.y);
    });
    progress.update(step, loss.item<float>());
    if (step % 20 == 0) run.log(step, {{"train_loss", loss.item<float>()}});  // <dir>/metrics.jsonl: nnx-ckpt plot
    if (step % save_every == 0 || step == steps) save(step, step == steps);
    if (g_stop) {
      progress.finish();
      if (manager.latest_step() == step || manager.pending_step() == step) {  // committed, or being written
        std::cout << "interrupted after step " << step << ", already saved\n";
      } else {
        save(step, true);
        std::cout << "interrupted: saved step " << step << " and stopped\n";
      }
      manager.wait_until_finished();
      return 0;
    }
  }
  progress.finish();
  manager.wait_until_finished();
  const nnx::Evaluation val = nnx::evaluate(model, validation, nnx::softmax_cross_entropy);
  std::cout << "finished at step " << optimizer.num_steps() << ": validation accuracy " << val.accuracy;
  if (auto best = manager.best_step()) std::cout << ", best step " << *best;
  std::cout << "\n";
  return 0;
}

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {  // nnx errors say what went wrong and what to do
    std::cerr << "07_train_resume: " << e.what() << "\n";
    return 1;
  }
}
