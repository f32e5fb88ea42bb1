// Data-parallel training throughput (steps/s) of the mnist MLP (784-512-512-10, global batch 256,
// SGD) under mpirun, one thread per process.
//
//   mpirun -np 2 build/bin/bench_distributed [exact|gather|fast|plain] [shards] [seconds]
//
// plain: nnx::train_step on the whole batch, no sharding (one process: the single-process
// reference). Rank 0 prints one line: mode processes shards steps_per_second bytes_sent_per_step
// (what one rank contributes to the reduction: exact 8 B, fast 4 B, gather 4 B x its shards, per
// parameter). Every rank runs the same number of steps: rank 0 decides after each block of 5
// whether the time is up, and broadcasts it.
#include <chrono>
#include <cstdio>
#include <nnx/distributed.hpp>
#include <nnx/models.hpp>
#include <string>

#include "configs.hpp"

namespace dist = nnx::distributed;

int main(int argc, char** argv) {
  dist::Communicator comm(argc, argv);
  const std::string mode = argc > 1 ? argv[1] : "exact";
  const std::int64_t shards = argc > 2 ? std::atoi(argv[2]) : 8;
  const double seconds = argc > 3 ? std::atof(argv[3]) : 3.0;
  const bench::Config& cfg = bench::configs()[2];  // mnist
  nnx::set_num_threads(1);
  nnx::models::MLP model({.in = cfg.in, .hidden = cfg.hidden, .out = cfg.out}, nnx::Rngs(0));
  nnx::Optimizer opt(model, nnx::optim::sgd(0.01));
  const nnx::Array x = bench::inputs(cfg);
  std::vector<std::int32_t> labels(static_cast<std::size_t>(cfg.batch));
  for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<std::int32_t>(i % static_cast<std::size_t>(cfg.out));
  const nnx::Batch batch{x, nnx::Array::from_values<std::int32_t>({cfg.batch}, labels)};
  const dist::Reduction reduction = mode == "gather" ? dist::Reduction::gather : mode == "fast" ? dist::Reduction::fast : dist::Reduction::exact;
  dist::DataParallel dp(comm, {.shards = shards, .reduction = reduction});
  auto loss = [](nnx::models::MLP& m, const nnx::Batch& b) { return nnx::softmax_cross_entropy(m(b.x), b.y); };
  auto step = [&] {
    if (mode == "plain") nnx::train_step(model, opt, [&](nnx::models::MLP& m) { return loss(m, batch); });
    else dp.train_step(model, opt, batch, loss);
  };
  for (int i = 0; i < 5; ++i) step();
  comm.barrier();
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  std::int64_t steps = 0;
  double elapsed = 0;
  for (std::vector<std::uint8_t> more{1}; more.size() == 1 && more[0] == 1;) {
    for (int i = 0; i < 5; ++i) step();
    steps += 5;
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    more = {static_cast<std::uint8_t>(elapsed < seconds)};
    comm.broadcast(more);
  }
  const std::int64_t params = model.num_parameters();
  const std::int64_t bytes = mode == "exact" ? 8 * params : mode == "gather" ? 4 * params * dp.my_shards().size() : 4 * params;
  if (comm.is_root())
    std::printf("%s %d %lld %.2f %lld\n", mode.c_str(), comm.size(), static_cast<long long>(shards), static_cast<double>(steps) / elapsed,
                static_cast<long long>(comm.size() > 1 && mode != "plain" ? bytes : 0));
  return 0;
}
