// A training-and-saving process for the crash tests: it resumes from the latest step (printing
// "ready <step>", 0 when starting fresh), then trains an MLP and saves every step, printing
// "committed <step>" after each save returns (sync) or is known committed (async). The parent
// SIGKILLs it at arbitrary moments and checks what survived.
//
//   checkpoint_crash_child DIR STEPS [async] [max_to_keep]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nnx/checkpoint.hpp>
#include <string>

#include "crash_training.hpp"

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
  crash_training::Trainer t;
  long start = 0;
  if (auto latest = manager.latest_step()) {  // resume
    auto target = nnx::checkpoint::Composite().add("model", nnx::state(t.model)).add("opt", nnx::state(t.opt));
    auto restored = manager.restore(latest, target);
    nnx::update(t.model, restored.state("model"));
    nnx::update(t.opt, restored.state("opt"));
    start = *latest;
  }
  std::printf("ready %ld\n", start);
  std::fflush(stdout);
  for (long step = start + 1; step <= steps; ++step) {
    t.step();
    manager.save(step, nnx::checkpoint::Composite().add("model", nnx::state(t.model)).add("opt", nnx::state(t.opt)));
    if (async) manager.wait_until_finished();
    std::printf("committed %ld\n", step);
    std::fflush(stdout);
  }
  return 0;
}
