// tests/checkpoint/crash_training.hpp — the training the crash child runs and the crash test
// replays in-process: one definition, so that the test knows the exact bits of every step.
//
//   crash_training::Trainer t;      // fresh model (seeded) and Adam optimizer, fixed batch
//   t.step();                       // one train_step; after k calls the state is that of step k
#pragma once

#include <nnx/models.hpp>
#include <vector>

namespace crash_training {

inline const nnx::models::MLPConfig kConfig{.in = 16, .hidden = {256, 256}, .out = 4, .dropout = 0.1};

inline nnx::models::MLP make_model() {
  nnx::Rngs rngs({{"params", 0}, {"dropout", 1}});
  return nnx::models::MLP(kConfig, rngs);
}

// Not movable: the optimizer was built for this model object.
struct Trainer {
  nnx::models::MLP model = make_model();
  nnx::Optimizer opt{model, nnx::optim::adam(1e-3)};
  nnx::Array x = nnx::init::normal(1.0)(nnx::key_from_seed(9), {32, 16}, nnx::DType::float32);
  nnx::Array y = nnx::Array::from_values<std::int32_t>({32}, std::vector<std::int32_t>(32, 1));

  Trainer() = default;
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  void step() {
    nnx::train_step(model, opt, [&](nnx::models::MLP& m) { return nnx::softmax_cross_entropy(m(x), y); });
  }
};

}  // namespace crash_training
