// Training throughput of nnx (steps/s) for the MLP shapes of the benchmark.
//
//   build/bin/bench_train [tiny|small|mnist] [sgd|adam] [threads] [seconds]
//
// One line of output: config optimizer threads steps_per_second matmul_backend openblas_kernel
// (NNX_MATMUL picks the backend; NNX_FMA_PATH the deterministic one's path). The model, data, loss and
// initialisation match bench_torch_train: lecun-normal kernels, zero biases, softmax
// cross-entropy on fixed inputs and labels.
#include <cstdio>
#include <nnx/models.hpp>

#include "configs.hpp"

int main(int argc, char** argv) {
  const bench::Args args = bench::parse_args(argc, argv, "bench_train");
  if (!args.config) return 2;
  const bench::Config& cfg = *args.config;
  nnx::set_num_threads(args.threads);
  nnx::Rngs rngs(0);
  nnx::models::MLP model({.in = cfg.in, .hidden = cfg.hidden, .out = cfg.out}, rngs);
  nnx::Optimizer opt(model, args.optimizer == "sgd" ? nnx::optim::sgd(0.01) : nnx::optim::adam(1e-3));
  const nnx::Array x = bench::inputs(cfg);
  std::vector<std::int32_t> labels(static_cast<std::size_t>(cfg.batch));
  for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<std::int32_t>(i % static_cast<std::size_t>(cfg.out));
  const nnx::Array y = nnx::Array::from_values<std::int32_t>({cfg.batch}, labels);
  auto step = [&] {
    nnx::train_step(model, opt, [&](nnx::models::MLP& m) { return nnx::softmax_cross_entropy(m(x), y); });
  };
  const double rate = bench::steps_per_second(step, args.seconds);
  const char* backend = nnx::matmul_backend_name(nnx::matmul_backend());
  std::printf("%s %s %d %.1f %s %s\n", cfg.name, args.optimizer.c_str(), args.threads, rate, backend, bench::openblas_core());
  return 0;
}
