// The libtorch side of the training benchmark: the same MLP, data, loss and initial parameters as
// bench_train (the initial values are nnx's, copied into the torch module).
//
//   build/bin/bench_torch_train [tiny|small|mnist] [sgd|adam] [threads] [seconds]
//
// One line of output: config optimizer threads steps_per_second openblas_kernel. The step is torch's
// usual one, zero_grad included (it writes zeros into every gradient; nnx's gradients are fresh).
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nnx/models.hpp>
#include <string>

#include "configs.hpp"

namespace {
torch::Tensor to_torch(const nnx::Array& a) {
  std::vector<std::int64_t> shape(a.shape().begin(), a.shape().end());
  return torch::from_blob(const_cast<float*>(a.data<float>()), shape, torch::kFloat32).clone();
}
}  // namespace

int main(int argc, char** argv) {
  const bench::Args args = bench::parse_args(argc, argv, "bench_torch_train");
  if (!args.config) return 2;
  const bench::Config& cfg = *args.config;
  torch::set_num_threads(args.threads);
  // The initial parameters: nnx's MLP, copied.
  nnx::Rngs rngs(0);
  nnx::models::MLP reference({.in = cfg.in, .hidden = cfg.hidden, .out = cfg.out}, rngs);
  torch::nn::Sequential net;
  for (std::size_t i = 0; i < reference.layers.size(); ++i) {
    const auto& l = reference.layers[i];
    auto linear = torch::nn::Linear(l.in_features, l.out_features);
    torch::NoGradGuard no_grad;
    linear->weight.copy_(to_torch(l.kernel.value).t());  // torch stores (out, in)
    linear->bias.copy_(to_torch(l.bias->value));
    net->push_back(linear);
    if (i + 1 < reference.layers.size()) net->push_back(torch::nn::ReLU());
  }
  std::unique_ptr<torch::optim::Optimizer> opt;
  if (args.optimizer == "sgd")
    opt = std::make_unique<torch::optim::SGD>(net->parameters(), torch::optim::SGDOptions(0.01));
  else
    opt = std::make_unique<torch::optim::Adam>(net->parameters(), torch::optim::AdamOptions(1e-3));
  const nnx::Array xa = bench::inputs(cfg);
  const torch::Tensor x = to_torch(xa);
  std::vector<std::int64_t> labels(static_cast<std::size_t>(cfg.batch));
  for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<std::int64_t>(i % static_cast<std::size_t>(cfg.out));
  const torch::Tensor y = torch::tensor(labels, torch::kInt64);
  auto step = [&] {
    opt->zero_grad();
    torch::Tensor loss = torch::nn::functional::cross_entropy(net->forward(x), y);
    loss.backward();
    opt->step();
  };
  const double rate = bench::steps_per_second(step, args.seconds);
  std::printf("%s %s %d %.1f %s\n", cfg.name, args.optimizer.c_str(), args.threads, rate, bench::openblas_core());
  return 0;
}
