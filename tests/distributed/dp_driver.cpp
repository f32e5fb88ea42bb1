// The MPI program the distributed tests run under mpirun (tests/distributed/*.sh drive it).
//
//   dp_driver train --steps 30 [--shards 8] [--reduction exact|gather|fast] [--dir D --save-every 5
//                   [--stop-after N] [--async]]    prints "digest <hex>" of model + optimizer + loader
//   dp_driver fail-save     rank 0's save throws at step 2: every rank must catch it (prints "caught")
//   dp_driver fail-nan      the last shard's loss is NaN: every rank must catch the exact reduction's error
//   dp_driver fail-local    the loss function throws on the last rank only: every rank must catch it
//   dp_driver fail-resume   the last rank builds a wider model than the one saved in --dir: resuming,
//                           every rank must catch the mismatch rank 0's broadcast reveals there
//   dp_driver fail-async    async saves; a regular file blocks step 3's directory, so rank 0's background
//                           write fails: every rank must catch it at the next collective (save 4)
//
// The model has Dropout and BatchNorm, so RNG streams and batch statistics take part in the bits.
#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nnx/checkpoint/json.hpp>
#include <nnx/distributed.hpp>
#include <nnx/models.hpp>

namespace dist = nnx::distributed;

namespace {
struct Failing {  // a JSON item whose serialisation throws on rank 0 when armed: a save error on rank 0 only
  bool armed = false;
  template <class A> void serialize(A& ar) {
    if (armed) throw nnx::Error("injected failure: rank 0 cannot write this step (think: disk full)");
    ar(cereal::make_nvp("armed", armed));
  }
};

std::uint64_t fnv(std::uint64_t h, const void* p, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) h = (h ^ static_cast<const unsigned char*>(p)[i]) * 1099511628211ull;
  return h;
}
std::uint64_t digest(const std::vector<nnx::State>& states) {
  std::uint64_t h = 14695981039346656037ull;
  for (const nnx::State& s : states)
    for (const auto& [path, var] : s) {
      const std::string name = path.str();
      h = fnv(h, name.data(), name.size() + 1);
      h = fnv(h, var.value.raw_data(), var.value.nbytes());
    }
  return h;
}

dist::Reduction parse_reduction(const std::string& r) {
  if (r == "exact") return dist::Reduction::exact;
  if (r == "gather") return dist::Reduction::gather;
  if (r == "fast") return dist::Reduction::fast;
  throw nnx::Error("--reduction: expected exact, gather or fast, got '" + r + "'");
}
}  // namespace

int run(dist::Communicator& comm, int argc, char** argv) {
  CLI::App app{"nnx::distributed test driver"};
  std::string mode = "train", dir, reduction = "exact";
  std::int64_t steps = 30, shards = 8, save_every = 5, stop_after = -1;
  bool async = false;
  app.add_option("mode", mode);
  app.add_option("--steps", steps);
  app.add_option("--shards", shards);
  app.add_option("--reduction", reduction);
  app.add_option("--dir", dir);
  app.add_option("--save-every", save_every);
  app.add_option("--stop-after", stop_after);
  app.add_flag("--async", async);
  CLI11_PARSE(app, argc, argv);
  nnx::set_num_threads(1);

  nnx::Rngs rngs({{"params", 0}, {"dropout", 1}, {"data", 2}});
  const std::int64_t width = mode == "fail-resume" && comm.rank() == comm.size() - 1 ? 17 : 16;
  nnx::models::MLP model({.in = 8, .hidden = {width, 16}, .out = 3, .dropout = 0.2, .batch_norm = true}, rngs);
  nnx::Optimizer opt(model, nnx::optim::adam(1e-2));
  nnx::DataLoader loader(nnx::datasets::blobs(400, 3, 8, 1.0, nnx::key_from_seed(3)), 48, rngs);
  dist::DataParallel dp(comm, {.shards = shards, .reduction = parse_reduction(reduction)});
  const dist::ShardRange mine = dp.my_shards();
  std::cout << "rank " << comm.rank() << " of " << comm.size() << " holds shards [" << mine.begin << ", " << mine.end << ")"
            << std::endl;
  auto loss_fn = [&](nnx::models::MLP& m, const nnx::Batch& b) { return nnx::softmax_cross_entropy(m(b.x), b.y); };

  if (mode == "fail-nan") {
    try {
      dp.train_step(model, opt, loader.next(), loss_fn);  // a sound step first
      // A poisoned step: the last shard's rows (held by the last rank only) are NaN.
      nnx::Batch batch = loader.next();
      float* x = batch.x.mutable_data<float>();
      const std::int64_t rows = batch.x.dim(0) / shards;
      for (std::int64_t i = (shards - 1) * rows * 8; i < batch.x.numel(); ++i) x[i] = std::nanf("");
      dp.train_step(model, opt, batch, loss_fn);
      std::cout << "rank " << comm.rank() << " NOT caught: the NaN step passed" << std::endl;
      return 1;
    } catch (const dist::CollectiveError& e) {  // the type says: every rank threw it
      std::cout << "rank " << comm.rank() << " caught: " << e.what() << std::endl;
      return 0;
    }
  }

  if (mode == "fail-local") {
    try {
      dp.train_step(model, opt, loader.next(), loss_fn);  // a sound step first
      dp.train_step(model, opt, loader.next(), [&](nnx::models::MLP& m, const nnx::Batch& b) {
        if (comm.rank() == comm.size() - 1) throw nnx::Error("injected failure in the loss function of the last rank");
        return loss_fn(m, b);
      });
      std::cout << "rank " << comm.rank() << " NOT caught: the failing step passed" << std::endl;
      return 1;
    } catch (const dist::CollectiveError& e) {  // the type says: every rank threw it
      std::cout << "rank " << comm.rank() << " caught: " << e.what() << std::endl;
      return 0;
    }
  }

  std::unique_ptr<dist::CoordinatedRun> run;
  Failing failing;
  const bool failing_mode = mode == "fail-save" || mode == "fail-async";
  if (mode == "fail-async") async = true;
  if (mode == "fail-resume") {
    try {
      dist::CoordinatedRun run(comm, dir);
      run.add("model", model).add("optimizer", opt).add("data", loader);
      run.resume_or_start();
      std::cout << "rank " << comm.rank() << " NOT caught: the mismatched resume passed" << std::endl;
      return 1;
    } catch (const dist::CollectiveError& e) {  // the type says: every rank threw it
      std::cout << "rank " << comm.rank() << " caught: " << e.what() << std::endl;
      return 0;
    }
  }
  if (!dir.empty() || failing_mode) {
    run = std::make_unique<dist::CoordinatedRun>(
        comm, dir, nnx::checkpoint::Options{.max_to_keep = 3, .cleanup_tmp_directories = true, .enable_async_checkpointing = async});
    run->add("model", model).add("optimizer", opt).add("data", loader);
    if (mode == "fail-save") run->add_json("failing", failing);
    if (const auto resumed = run->resume_or_start()) std::cout << "rank " << comm.rank() << " resumed from step " << *resumed << std::endl;
  }
  for (std::int64_t step = opt.num_steps() + 1; step <= steps; ++step) {
    const nnx::Array loss = dp.train_step(model, opt, loader.next(), loss_fn);
    if (comm.is_root() && step % 10 == 0) std::cout << "step " << step << " loss " << loss.item<float>() << std::endl;
    if (run && (step % save_every == 0 || step == steps)) {
      failing.armed = mode == "fail-save" && step == 2 && comm.is_root();
      if (mode == "fail-async" && step == 3 && comm.is_root()) std::ofstream(run->manager()->step_directory(3)) << "in the way\n";
      try {
        const auto saved = run->save(step, {}, step == steps);
        if (comm.is_root()) std::cout << (saved.committed() ? "saved step " : "saving step ") << step << std::endl;
      } catch (const dist::CollectiveError& e) {  // the type says: every rank threw it
        if (!failing_mode) throw;
        std::cout << "rank " << comm.rank() << " caught at step " << step << ": " << e.what() << " | latest_step "
                  << (run->latest_step() ? std::to_string(*run->latest_step()) : "none") << std::endl;
        return 0;
      }
    }
    if (step == stop_after) {
      if (run) run->wait_until_finished();
      std::cout << "rank " << comm.rank() << " stopped after step " << step << std::endl;
      return 0;
    }
  }
  if (run) run->wait_until_finished();
  if (failing_mode) {
    std::cout << "rank " << comm.rank() << " NOT caught: the failing save passed" << std::endl;
    return 1;
  }
  // The interesting state really moved: Dropout's stream advanced by one shard's draws per step (2:
  // one per hidden layer), BatchNorm's running mean left zero.
  std::printf("rank %d dropout draws %u, norms/0/mean[0] %s 0\n", comm.rank(), model.dropout->rngs.current_count(),
              model.norms[0].mean.value.data<float>()[0] != 0.0f ? "!=" : "==");
  std::printf("rank %d digest %016llx\n", comm.rank(),
              static_cast<unsigned long long>(digest({nnx::state(model), nnx::state(opt), nnx::state(loader)})));
  return 0;
}

int main(int argc, char** argv) {
  dist::Communicator comm(argc, argv);
  try {
    return run(comm, argc, argv);
  } catch (const std::exception& e) {
    comm.abort(std::string("dp_driver: ") + e.what());
  }
}
