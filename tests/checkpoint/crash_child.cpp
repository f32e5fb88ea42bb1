// A training-and-saving process for the crash tests: it trains an MLP and saves every step, and
// prints "committed <step>" after each save returns (sync) or is known committed (async). The
// parent SIGKILLs it at arbitrary moments and checks what survived.
//
//   checkpoint_crash_child DIR STEPS [async] [max_to_keep]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nnx/checkpoint.hpp>
#include <nnx/nnx.hpp>
#include <string>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: checkpoint_crash_child DIR STEPS [async] [max_to_keep]\n");
    return 2;
  }
  const std::string dir = argv[1];
  const long steps = std::atol(argv[2]);
  const bool async = argc > 3 && std::strcmp(argv[3], "async") == 0;
  const int keep = argc > 4 ? std::atoi(argv[4]) : 3;
  nnx::checkpoint::CheckpointManager manager(dir, {.max_to_keep = keep, .enable_async_checkpointing = async});
  nnx::Rngs rngs({{"params", 0}, {"dropout", 1}});
  nnx::models::MLP model({.in = 16, .hidden = {256, 256}, .out = 4, .dropout = 0.1}, rngs);
  nnx::Optimizer opt(model, nnx::optim::adam(1e-3));
  long start = 0;
  if (auto latest = manager.latest_step()) {  // resume
    auto target = nnx::checkpoint::Composite().add("model", nnx::state(model)).add("opt", nnx::state(opt));
    auto restored = manager.restore(latest, target);
    nnx::update(model, restored.state("model"));
    nnx::update(opt, restored.state("opt"));
    start = *latest;
  }
  const nnx::Array x = nnx::init::normal(1.0)(nnx::key_from_seed(9), {32, 16}, nnx::DType::float32);
  const nnx::Array y = nnx::Array::from_values<std::int32_t>({32}, std::vector<std::int32_t>(32, 1));
  for (long step = start + 1; step <= steps; ++step) {
    nnx::train_step(model, opt, [&](nnx::models::MLP& m) { return nnx::softmax_cross_entropy(m(x), y); });
    manager.save(step, nnx::checkpoint::Composite().add("model", nnx::state(model)).add("opt", nnx::state(opt)));
    if (async) manager.wait_until_finished();
    std::printf("committed %ld\n", step);
    std::fflush(stdout);
  }
  return 0;
}
