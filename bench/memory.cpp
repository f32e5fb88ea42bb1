// Memory figures: what eval_shape costs for a 1e9-parameter MLP (time, bytes allocated), and the
// peak memory of a restore above the process's baseline, against the restored state's size.
//
//   build/bin/bench_memory PARAMS DIR
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/filesystem.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <new>
#include <nnx/checkpoint.hpp>
#include <nnx/models.hpp>
#include <string>

#include "../tests/alloc_counter.hpp"  // counts every byte operator new hands out
#include "disk.hpp"

namespace {
// VmRSS or VmHWM of this process, in bytes.
std::size_t proc_status_kb(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(field, 0) == 0) return std::strtoull(line.c_str() + std::strlen(field) + 1, nullptr, 10) * 1024;
  return 0;
}

nnx::models::MLP big_model() {
  nnx::Rngs rngs({{"params", 0}, {"dropout", 1}});
  return nnx::models::MLP({.in = 1024, .hidden = {32768, 32768}, .out = 10, .dropout = 0.1}, rngs);
}

template <class F> int in_child(F f) {
  std::fflush(stdout);
  const pid_t pid = fork();
  if (pid == 0) {
    const int rc = f();
    std::fflush(stdout);
    std::_Exit(rc);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: bench_memory PARAMS DIR\n");
    return 2;
  }
  const std::int64_t params = std::atoll(argv[1]);
  const std::string dir = argv[2];

  const std::size_t before = allocated_bytes();
  const auto t0 = std::chrono::steady_clock::now();
  auto abstract = nnx::eval_shape(big_model);
  auto [graphdef, abstract_state] = nnx::split(abstract);
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  std::printf("eval_shape+split of a %lld-parameter MLP: %.3f ms, %zu bytes allocated\n",
              static_cast<long long>(abstract.num_parameters()), ms, allocated_bytes() - before);

  boost::filesystem::remove_all(dir);
  if (in_child([&] {
        nnx::checkpoint::CheckpointManager m(dir);
        m.save(1, bench::make_state(params));
        return 0;
      }) != 0)
    return 1;
  return in_child([&] {
    const nnx::State structure = bench::make_state(params, false);  // the restore target: abstract, no memory
    nnx::checkpoint::CheckpointManager m(dir, {.read_only = true});
    std::ofstream("/proc/self/clear_refs") << "5";  // resets VmHWM to the current RSS
    const std::size_t baseline = proc_status_kb("VmRSS:");
    nnx::State restored = m.restore(1, structure);
    const std::size_t peak = proc_status_kb("VmHWM:");
    const double state_bytes = static_cast<double>(restored.num_bytes());
    std::printf("restore of %.1f MB: peak memory %.1f MB above the baseline, %.3fx the state's size\n", state_bytes / 1e6,
                static_cast<double>(peak - baseline) / 1e6, static_cast<double>(peak - baseline) / state_bytes);
    return 0;
  });
}
