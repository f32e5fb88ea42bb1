// Training throughput of nnx (steps/s) for the MLP shapes of the benchmark issue.
//
//   build/bin/bench_train [tiny|small|mnist] [sgd|adam] [threads] [seconds]
//
// One line of output: config optimizer threads steps_per_second. The model, data, loss and
// initialisation match the libtorch side of the benchmark: lecun-normal kernels, zero biases,
// softmax cross-entropy on fixed random inputs and labels.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nnx/nnx.hpp>
#include <string>

namespace {
struct Config {
  const char* name;
  std::int64_t in;
  std::vector<std::int64_t> hidden;
  std::int64_t out;
  std::int64_t batch;
};

const Config kConfigs[] = {
    {"tiny", 4, {32, 32}, 2, 32},
    {"small", 64, {256, 256}, 10, 128},
    {"mnist", 784, {512, 512}, 10, 256},
};
}  // namespace

int main(int argc, char** argv) {
  const std::string which = argc > 1 ? argv[1] : "tiny";
  const std::string opt_name = argc > 2 ? argv[2] : "sgd";
  const int threads = argc > 3 ? std::atoi(argv[3]) : 1;
  const double seconds = argc > 4 ? std::atof(argv[4]) : 2.0;
  const Config* cfg = nullptr;
  for (const auto& c : kConfigs)
    if (which == c.name) cfg = &c;
  if (!cfg || (opt_name != "sgd" && opt_name != "adam") || threads < 1 || !(seconds > 0)) {
    std::fprintf(stderr, "usage: bench_train [tiny|small|mnist] [sgd|adam] [threads >= 1] [seconds > 0]\n");
    return 2;
  }
  nnx::set_num_threads(threads);
  nnx::Rngs rngs(0);
  nnx::models::MLP model({.in = cfg->in, .hidden = cfg->hidden, .out = cfg->out}, rngs);
  nnx::Optimizer opt(model, opt_name == "sgd" ? nnx::optim::sgd(0.01) : nnx::optim::adam(1e-3));
  const nnx::Array x = nnx::init::normal(1.0)(nnx::key_from_seed(1), {cfg->batch, cfg->in}, nnx::DType::float32);
  std::vector<std::int32_t> labels(static_cast<std::size_t>(cfg->batch));
  for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<std::int32_t>(i % static_cast<std::size_t>(cfg->out));
  const nnx::Array y = nnx::Array::from_values<std::int32_t>({cfg->batch}, labels);
  auto step = [&] {
    return nnx::train_step(model, opt, [&](nnx::models::MLP& m) { return nnx::softmax_cross_entropy(m(x), y); });
  };
  for (int i = 0; i < 20; ++i) step();  // warm-up
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  std::int64_t steps = 0;
  double elapsed = 0;
  while (elapsed < seconds) {
    for (int i = 0; i < 10; ++i) step();
    steps += 10;
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  }
  std::printf("%s %s %d %.1f\n", cfg->name, opt_name.c_str(), threads, static_cast<double>(steps) / elapsed);
  return 0;
}
