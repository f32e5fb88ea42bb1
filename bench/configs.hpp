// The benchmark's MLP configurations and command line, shared by the nnx and libtorch programs.
#pragma once

#include <dlfcn.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <nnx/nnx.hpp>
#include <optional>
#include <string>
#include <vector>

namespace bench {

struct Config {
  const char* name;
  std::int64_t in;
  std::vector<std::int64_t> hidden;
  std::int64_t out;
  std::int64_t batch;
};

inline const std::vector<Config>& configs() {
  static const std::vector<Config> all = {
      {"tiny", 4, {32, 32}, 2, 32},
      {"small", 64, {256, 256}, 10, 128},
      {"mnist", 784, {512, 512}, 10, 256},
  };
  return all;
}

struct Args {
  const Config* config = nullptr;
  std::string optimizer = "sgd";
  int threads = 1;
  double seconds = 2.0;
};

inline Args parse_args(int argc, char** argv, const char* program) {
  Args a;
  const std::string which = argc > 1 ? argv[1] : "tiny";
  a.optimizer = argc > 2 ? argv[2] : "sgd";
  a.threads = argc > 3 ? std::atoi(argv[3]) : 1;
  a.seconds = argc > 4 ? std::atof(argv[4]) : 2.0;
  for (const auto& c : configs())
    if (which == c.name) a.config = &c;
  if (!a.config || (a.optimizer != "sgd" && a.optimizer != "adam") || a.threads < 1 || !(a.seconds > 0)) {
    std::fprintf(stderr, "usage: %s [tiny|small|mnist] [sgd|adam] [threads >= 1] [seconds > 0]\n", program);
    a.config = nullptr;
  }
  return a;
}

// Fixed inputs: standard normal, from nnx's generator (the same bits for both sides).
inline nnx::Array inputs(const Config& c) {
  return nnx::init::normal(1.0)(nnx::key_from_seed(1), {c.batch, c.in}, nnx::DType::float32);
}

// The kernel family OpenBLAS picked for this CPU (OPENBLAS_CORETYPE overrides it), or "-" when no
// OpenBLAS is loaded: looked up at run time, since neither side links OpenBLAS directly.
inline const char* openblas_core() {
  using CoreName = char* (*)();
  auto f = reinterpret_cast<CoreName>(::dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  return f ? f() : "-";
}

// Runs `step` for about `seconds` after a warm-up; returns steps per second.
template <class F> double steps_per_second(F&& step, double seconds) {
  for (int i = 0; i < 20; ++i) step();
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  std::int64_t steps = 0;
  double elapsed = 0;
  while (elapsed < seconds) {
    for (int i = 0; i < 10; ++i) step();
    steps += 10;
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  }
  return static_cast<double>(steps) / elapsed;
}

}  // namespace bench
