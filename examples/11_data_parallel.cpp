// Lesson 11: data-parallel training over MPI — the same bits on any number of processes, checkpoints
// coordinated across them, killed, resumed on another number of processes, and the same digest.
//
//   mpirun -np 2 build/bin/11_data_parallel --dir /tmp/dp --steps 600 --save-every 50 [--async]
//   mpirun -np 3 build/bin/11_data_parallel --dir /tmp/dp --steps 600 ...   # resumes where -np 2 left
//   (as root add --allow-run-as-root; more processes than cores: --oversubscribe)
//
// Every rank builds the same model, optimizer and loader from the seed and reads the same global
// batch of 64 rows; the batch is cut into 8 shards (fixed: the shard count, not the process count,
// decides the bits) and each rank computes the gradients of its shards. The exact reduction makes
// the mean gradient the same bits whichever rank held which shard; Dropout masks follow the shard
// index, the data order the global position. So the checkpoint written by 2 processes resumes on
// 1, 3 or 4, and the run ends bitwise where an uninterrupted 2-process run ends (examples/
// dp_resume_story.sh shows it, killing a rank with SIGKILL on the way). Only rank 0 writes the
// checkpoints, into ordinary step directories: nnx-ckpt list / verify / digest work on them.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <nnx/checkpoint/json.hpp>
#include <nnx/distributed.hpp>
#include <nnx/models.hpp>

namespace dist = nnx::distributed;

namespace {
struct Progress {  // a JSON item: human-readable context next to the arrays
  std::int64_t step = 0, processes = 0;
  double val_accuracy = 0;
  template <class A> void serialize(A& ar) {
    ar(cereal::make_nvp("step", step), cereal::make_nvp("processes", processes), cereal::make_nvp("val_accuracy", val_accuracy));
  }
};
}  // namespace

int run(dist::Communicator& comm, int argc, char** argv) {
  CLI::App app{"Lesson 11: data-parallel training over MPI, resumable on any number of processes"};
  std::string dir;
  std::int64_t steps = 600, save_every = 50, shards = 8;
  std::uint64_t seed = 0;
  bool async = false;
  app.add_option("--dir", dir, "checkpoint directory (rank 0's disk or a shared filesystem)")->required();
  app.add_option("--steps", steps, "train until this step")->check(CLI::Range(std::int64_t{1}, std::int64_t{100'000'000}));
  app.add_option("--save-every", save_every, "save every N steps")->check(CLI::Range(std::int64_t{1}, std::int64_t{100'000'000}));
  app.add_option("--shards", shards, "shards per global batch (fixed for a run; >= processes)")->check(CLI::Range(1, 64));
  app.add_option("--seed", seed, "seed of parameters, dropout and data order");
  app.add_flag("--async", async, "rank 0 saves in the background");
  CLI11_PARSE(app, argc, argv);
  nnx::set_num_threads(1);  // one thread per process: the processes are the parallelism
  std::cout << "rank " << comm.rank() << " pid " << ::getpid() << std::endl;  // for the story's kill

  nnx::Rngs rngs({{"params", seed}, {"dropout", seed + 1}, {"data", seed + 2}});
  const nnx::Dataset all = nnx::datasets::two_spirals(2000, 0.02, nnx::key_from_seed(seed + 3));
  const auto [train, validation] = all.split(0.8);
  nnx::models::MLP model({.in = 2, .hidden = {64, 64}, .out = 2, .dropout = 0.1}, rngs);
  nnx::Optimizer optimizer(model, nnx::optim::adam(3e-3));
  nnx::DataLoader loader(train, 64, rngs);  // the GLOBAL batch: the same on every rank
  dist::DataParallel dp(comm, {.shards = shards});

  dist::CoordinatedRun run(comm, dir, {.max_to_keep = 3, .cleanup_tmp_directories = true, .enable_async_checkpointing = async});
  Progress status;
  run.add("model", model).add("optimizer", optimizer).add("data", loader).add_json("progress", status);
  if (const auto resumed = run.resume_or_start()) {
    if (comm.is_root())
      std::cout << "resumed from step " << *resumed << " (saved by " << status.processes << " processes) on " << comm.size()
                << " processes" << std::endl;
  } else if (comm.is_root()) {
    std::cout << "starting from scratch on " << comm.size() << " processes (" << dir << ")" << std::endl;
  }

  for (std::int64_t step = optimizer.num_steps() + 1; step <= steps; ++step) {
    const nnx::Array loss = dp.train_step(model, optimizer, loader.next(), [](nnx::models::MLP& m, const nnx::Batch& b) {
      return nnx::softmax_cross_entropy(m(b.x), b.y);
    });
    if (step % 20 == 0) run.log(step, {{"train_loss", loss.item<float>()}});  // rank 0's <dir>/metrics.jsonl
    if (step % save_every == 0 || step == steps) {
      // Every rank evaluates (the same numbers); only rank 0 writes.
      const nnx::Evaluation val = nnx::evaluate(model, validation, nnx::softmax_cross_entropy);
      status = Progress{step, comm.size(), val.accuracy};
      const auto saved = run.save(step, {{"val_accuracy", val.accuracy}}, step == steps);
      if (comm.is_root() && saved)
        std::cout << (saved.committed() ? "saved step " : "saving step ") << step << " (validation accuracy " << val.accuracy
                  << ")" << std::endl;
    }
  }
  run.wait_until_finished();  // rank 0's last async save: its outcome reaches every rank
  if (comm.is_root())
    std::cout << "finished at step " << optimizer.num_steps() << " on " << comm.size() << " processes, latest step "
              << run.latest_step().value_or(-1) << std::endl;
  return 0;
}

int main(int argc, char** argv) {
  dist::Communicator comm(argc, argv);
  try {
    return run(comm, argc, argv);
  } catch (const dist::CollectiveError& e) {  // every rank has it (say, rank 0's disk is full): end normally
    if (comm.is_root()) std::cerr << "11_data_parallel: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {  // this rank's alone: end the whole job
    comm.abort(std::string("11_data_parallel: ") + e.what());
  }
}
