// End-to-end training: convergence on two_spirals and sine, bitwise determinism (dropout, batch
// norm, threads), and evaluate().
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <nnx/models.hpp>

namespace {

using nnx::Array;
using nnx::Dataset;
using nnx::State;
using nnx::models::MLP;

double item(const Array& a) { return a.astype(nnx::DType::float64).item<double>(); }

struct ThreadsGuard {
  ~ThreadsGuard() { nnx::set_num_threads(1); }
};

struct Run {
  std::vector<float> losses;
  State model, optimizer, loader;
};

// A short, fully seeded training run on two_spirals.
Run train_run(std::vector<std::int64_t> hidden, std::int64_t batch, int steps) {
  const Dataset data = nnx::datasets::two_spirals(1024, 0.05, nnx::key_from_seed(5));
  nnx::Rngs rngs({{"params", 0}, {"dropout", 1}, {"data", 2}});
  MLP model({.in = 2, .hidden = std::move(hidden), .out = 2, .dropout = 0.1, .batch_norm = true}, rngs);
  nnx::Optimizer opt(model, nnx::optim::adam(1e-3));
  nnx::DataLoader loader(data, batch, rngs);
  Run run;
  for (int step = 0; step < steps; ++step) {
    const nnx::Batch b = loader.next();
    const Array loss = nnx::train_step(model, opt, [&](MLP& m) { return nnx::softmax_cross_entropy(m(b.x), b.y); });
    run.losses.push_back(loss.item<float>());
  }
  run.model = nnx::state(model);
  run.optimizer = nnx::state(opt);
  run.loader = nnx::state(loader);
  return run;
}

void check_identical(const Run& a, const Run& b) {
  REQUIRE(a.losses.size() == b.losses.size());
  std::size_t first_difference = a.losses.size();
  for (std::size_t i = 0; i < a.losses.size() && first_difference == a.losses.size(); ++i)
    if (!(a.losses[i] == b.losses[i])) first_difference = i;
  CHECK(first_difference == a.losses.size());
  CHECK(nnx::state_equal(a.model, b.model));
  CHECK(nnx::state_equal(a.optimizer, b.optimizer));
  CHECK(nnx::state_equal(a.loader, b.loader));
}

}  // namespace

TEST_CASE("an MLP reaches 99% test accuracy on two_spirals") {
  const Dataset all = nnx::datasets::two_spirals(2000, 0.02, nnx::key_from_seed(0));
  const auto [train, test] = all.split(0.8);
  REQUIRE(test.size() == 400);
  nnx::Rngs rngs({{"params", 0}, {"data", 1}});
  MLP model({.in = 2, .hidden = {64, 64}, .out = 2}, rngs);
  nnx::Optimizer opt(model, nnx::optim::adam(3e-3));
  nnx::DataLoader loader(train, 64, rngs);
  const nnx::Evaluation initial = nnx::evaluate(model, test, nnx::softmax_cross_entropy);
  nnx::Evaluation e;
  int step = 0;
  while (step < 4000) {
    const nnx::Batch b = loader.next();
    nnx::train_step(model, opt, [&](MLP& m) { return nnx::softmax_cross_entropy(m(b.x), b.y); });
    if (++step % 100 == 0) {
      e = nnx::evaluate(model, test, nnx::softmax_cross_entropy);
      if (e.accuracy >= 0.99) break;
    }
  }
  MESSAGE("two_spirals: test accuracy " << e.accuracy << " after " << step << " steps (" << loader.epoch()
                                        << " epochs), test loss " << e.loss);
  CHECK(e.accuracy >= 0.99);
  CHECK(e.loss < initial.loss / 10);
  CHECK(e.examples == 400);
}

TEST_CASE("an MLP fits sine regression to R^2 >= 0.99") {
  const Dataset all = nnx::datasets::sine(1000, 0.02, nnx::key_from_seed(1));
  const auto [train, test] = all.split(0.8);
  nnx::Rngs rngs({{"params", 0}, {"data", 1}});
  MLP model({.in = 1, .hidden = {32, 32}, .out = 1, .activation = nnx::Activation::tanh}, rngs);
  nnx::Optimizer opt(model, nnx::optim::adam(1e-2));
  nnx::DataLoader loader(train, 32, rngs);
  double r2 = -1;
  int step = 0;
  while (step < 3000) {
    const nnx::Batch b = loader.next();
    nnx::train_step(model, opt, [&](MLP& m) { return nnx::mse(m(b.x), b.y); });
    if (++step % 100 == 0) {
      model.eval();
      r2 = nnx::r2_score(model(test.features), test.labels);
      model.train();
      if (r2 >= 0.99) break;
    }
  }
  MESSAGE("sine: test R^2 " << r2 << " after " << step << " steps");
  CHECK(r2 >= 0.99);
  const nnx::Evaluation e = nnx::evaluate(model, test, nnx::mse);
  CHECK(e.accuracy == 0.0);  // float targets: no accuracy
  CHECK(e.loss < 0.01);
}

TEST_CASE("two identical runs with dropout and batch norm are bitwise identical, step by step") {
  const Run a = train_run({32, 32}, 32, 200);
  const Run b = train_run({32, 32}, 32, 200);
  check_identical(a, b);
  double first = 0, last = 0;
  for (int i = 0; i < 20; ++i) {
    first += a.losses[static_cast<std::size_t>(i)];
    last += a.losses[a.losses.size() - 1 - static_cast<std::size_t>(i)];
  }
  CHECK(last < first);  // it did train
  CHECK(a.loader.at("epoch").value.item<std::int64_t>() == 6);  // 32 batches per epoch; batch 193 began epoch 6
}

TEST_CASE("training with 2 threads is bitwise identical to 1 thread") {
  ThreadsGuard guard;
  nnx::set_num_threads(1);
  const Run one = train_run({512, 512}, 128, 20);
  nnx::set_num_threads(2);
  CHECK(nnx::num_threads() == 2);
  const Run two = train_run({512, 512}, 128, 20);
  nnx::set_num_threads(1);
  check_identical(one, two);
  CHECK_THROWS_WITH_AS(nnx::set_num_threads(0), doctest::Contains(">= 1"), nnx::Error);
  CHECK(nnx::num_threads() == 1);
}

TEST_CASE("evaluate runs in evaluation mode, restores the mode and matches a manual computation") {
  const Dataset data = nnx::datasets::blobs(50, 3, 2, 1.5, nnx::key_from_seed(9));
  nnx::Rngs rngs({{"params", 0}, {"dropout", 1}, {"data", 2}});
  MLP model({.in = 2, .hidden = {16}, .out = 3, .dropout = 0.5, .batch_norm = true}, rngs);
  nnx::Optimizer opt(model, nnx::optim::adam(1e-2));
  nnx::DataLoader loader(data, 10, rngs);
  for (int i = 0; i < 20; ++i) {  // non-trivial batch statistics
    const nnx::Batch b = loader.next();
    nnx::train_step(model, opt, [&](MLP& m) { return nnx::softmax_cross_entropy(m(b.x), b.y); });
  }

  REQUIRE(model.is_training());
  const State before = nnx::state(model);
  const nnx::Evaluation e = nnx::evaluate(model, data, nnx::softmax_cross_entropy, 7);  // 7 batches, the last of 1
  CHECK(model.is_training());
  CHECK(model.dropout->is_training());
  CHECK(nnx::state_equal(nnx::state(model), before));  // no dropout draws, no batch-stat updates
  CHECK(e.examples == 50);

  model.eval();
  const Array logits = model(data.features);
  const double loss = item(nnx::softmax_cross_entropy(logits, data.labels));
  const double acc = nnx::accuracy(logits, data.labels);
  CHECK(e.loss == doctest::Approx(loss).epsilon(1e-5));
  CHECK(e.accuracy == doctest::Approx(acc).epsilon(1e-12));
  CHECK(acc > 0.5);

  // Called in evaluation mode, the model stays in it; the batch size does not change the result.
  const nnx::Evaluation whole = nnx::evaluate(model, data, nnx::softmax_cross_entropy);
  CHECK_FALSE(model.is_training());
  CHECK(whole.loss == doctest::Approx(e.loss).epsilon(1e-5));
  CHECK(whole.accuracy == doctest::Approx(e.accuracy).epsilon(1e-12));
  model.train();

  // In training mode the same inputs give other outputs (dropout): evaluate did switch modes.
  CHECK_FALSE(nnx::array_equal(model(data.features), logits));
  CHECK_THROWS_WITH_AS(nnx::evaluate(model, data, nnx::softmax_cross_entropy, 0), doctest::Contains("batch_size"),
                       nnx::Error);
}
