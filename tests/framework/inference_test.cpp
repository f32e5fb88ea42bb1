// predict: evaluation mode for the call, every module's mode restored, no tape, nothing changed.
#include <doctest/doctest.h>

#include <stdexcept>
#include <vector>

#include <nnx/models.hpp>

#include "fixtures.hpp"

using namespace framework_test;

namespace {

using nnx::Array;
using nnx::DType;
using nnx::models::MLP;

Array predict_input() {
  std::vector<float> v(16 * 3);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i % 11) * 0.3f - 1.5f;
  return Array::from_values<float>({16, 3}, v);
}

// Every module's training flag, in walk order.
std::vector<bool> modes_of(MLP& m) {
  std::vector<bool> modes{m.is_training(), m.dropout->is_training()};
  for (auto& l : m.layers) modes.push_back(l.is_training());
  for (auto& n : m.norms) modes.push_back(n.is_training());
  return modes;
}

// A trained model in training mode: non-trivial running statistics.
MLP trained_mlp() {
  nnx::Rngs rngs({{"params", 0}, {"dropout", 1}});
  MLP model({.in = 3, .hidden = {8}, .out = 2, .dropout = 0.5, .batch_norm = true}, rngs);
  nnx::Optimizer opt(model, nnx::optim::sgd(0.1));
  const Array y = Array::from_values<std::int32_t>({16}, {0, 1, 1, 0, 1, 0, 0, 1, 1, 1, 0, 0, 1, 0, 1, 0});
  for (int i = 0; i < 3; ++i)
    nnx::train_step(model, opt, [&](MLP& m) { return nnx::softmax_cross_entropy(m(predict_input()), y); });
  return model;
}

}  // namespace

TEST_CASE("predict leaves BatchNorm statistics, dropout streams and every module's mode unchanged and equals eval output") {
  MLP model = trained_mlp();
  struct Case {
    const char* name;
    void (*set_modes)(MLP&);
  };
  const Case cases[] = {
      {"all training (after a training loop)", [](MLP& m) { m.train(); }},
      {"all eval", [](MLP& m) { m.eval(); }},
      {"mixed: dropout in eval, the rest training", [](MLP& m) {
         m.train();
         m.dropout->eval();
       }},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    c.set_modes(model);
    const std::vector<bool> modes = modes_of(model);
    const nnx::State before = nnx::state(model);
    const Array predicted = nnx::predict(model, predict_input());
    CHECK(nnx::state_equal(nnx::state(model), before));  // no running-average update, no dropout draw
    CHECK(modes_of(model) == modes);
    CHECK(nnx::array_equal(nnx::predict(model, predict_input()), predicted));

    MLP reference = nnx::clone(model);
    reference.eval();
    CHECK(nnx::array_equal(reference(predict_input()), predicted));
  }
  // What predict protects against: calling the model in training mode changes it.
  model.train();
  const nnx::State before = nnx::state(model);
  (void)model(predict_input());
  CHECK_FALSE(nnx::state_equal(nnx::state(model), before));
}

TEST_CASE("predict restores the modes when the model throws, and is a constant inside a loss function") {
  MLP model = trained_mlp();
  CHECK(has(error_of([&] { nnx::predict(model, Array::zeros({2, 5}, DType::float32)); }), "expected input"));
  CHECK(model.is_training());
  CHECK(model.norms[0].is_training());

  // Inside value_and_grad, predict records nothing: a loss made only of it has zero gradients.
  auto [value, grads] = nnx::value_and_grad(model, [](MLP& m) { return nnx::mean(nnx::predict(m, predict_input())); });
  CHECK(grads.size() == nnx::state(model, nnx::Param{}).size());
  for (const auto& [path, g] : grads) {
    CAPTURE(path.str());
    CHECK(nnx::array_equal(g.value, Array::zeros(g.value.shape(), g.value.dtype())));
  }
  // And the recording resumes after it: the same loss plus the model's own output has gradients.
  auto both = nnx::value_and_grad(model, [](MLP& m) {
    return nnx::add(nnx::mean(nnx::predict(m, predict_input())), nnx::mean(m(predict_input())));
  });
  CHECK(nnx::max_abs_difference(both.grads.at("layers/1/bias").value, Array::zeros({2}, DType::float32)) > 0);
}
