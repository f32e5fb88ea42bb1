// Lesson 04: training — value_and_grad, an optax-style optimizer, a resumable data loader.
//
// NNX keeps the loop in your code. Everything a run needs to continue exactly — parameters,
// optimizer moments, RNG streams, the data position — is State, with paths you can read.
#include <nnx/nnx.hpp>

#include "lesson.hpp"

int main() {
  nnx::Rngs rngs({{"params", 0}, {"dropout", 1}, {"data", 2}});
  nnx::Dataset all = nnx::datasets::two_spirals(2000, 0.02, nnx::key_from_seed(7));
  auto [train, test] = all.split(0.8);

  nnx::models::MLP model({.in = 2, .hidden = {64, 64}, .out = 2, .dropout = 0.05}, rngs);
  nnx::Optimizer optimizer(model, nnx::optim::adam(3e-3));
  nnx::DataLoader loader(train, 64, rngs);

  lesson::section("the training loop: forward, backward, update");
  auto loss_fn = [](const nnx::Batch& b) {
    return [&b](nnx::models::MLP& m) { return nnx::softmax_cross_entropy(m(b.x), b.y); };
  };
  const int steps = 3000;
  nnx::Progress progress(steps);
  for (int step = 1; step <= steps; ++step) {
    nnx::Batch batch = loader.next();
    auto [loss, grads] = nnx::value_and_grad(model, loss_fn(batch));  // grads: a State keyed like the Params
    optimizer.update(model, std::move(grads));
    progress.update(step, loss.item<float>());
  }
  progress.finish();

  lesson::section("evaluation (model.eval() inside; dropout off)");
  nnx::Evaluation result = nnx::evaluate(model, test, nnx::softmax_cross_entropy);
  std::cout << "  test loss " << result.loss << ", accuracy " << result.accuracy << "\n";
  lesson::claim(result.accuracy >= 0.99, "the MLP separates the two spirals (>= 99% test accuracy)");
  lesson::claim(model.is_training(), "evaluate() put the model back in training mode");

  lesson::section("everything a resumed run needs is State");
  nnx::State opt_state = nnx::state(optimizer);
  nnx::State data_state = nnx::state(loader);
  std::cout << "optimizer:\n" << opt_state.subtree({"opt_state", "mu", "layers", 0}) << "data position:\n" << data_state;
  lesson::claim(opt_state.contains(nnx::Path::parse("opt_state/mu/layers/0/kernel")),
                "Adam's first moment is keyed by parameter path: opt_state/mu/layers/0/kernel");
  lesson::claim(optimizer.num_steps() == steps, "the optimizer counted every step");
  std::cout << "  loader: epoch " << loader.epoch() << ", index " << loader.index() << " of " << train.size() << "\n";
  lesson::claim(loader.epoch() * loader.batches_per_epoch() + loader.index() / 64 == steps,
                "the loader's (epoch, index) counts every batch it served");
  return 0;
}
