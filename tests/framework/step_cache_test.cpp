// The lean step's caches (graph_walk.hpp cached_walk, the Optimizer's parameter and slot
// pointers) must never be stale: each case changes what a cache was taken from between two steps
// and checks the next step sees the change, against a computation that uses no cache.
#include <doctest/doctest.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nnx/models.hpp>

#include "fixtures.hpp"

using namespace framework_test;

namespace {

using nnx::Array;
using nnx::DType;

// Layers in a vector and a dict: both can change shape between steps.
struct Growing : nnx::Module {
  std::vector<nnx::Linear> layers;
  std::map<std::string, nnx::Linear> heads;
  Growing() = default;
  explicit Growing(nnx::Rngs& rngs) {
    layers.emplace_back(3, 4, rngs);
    heads.emplace("a", nnx::Linear(4, 2, rngs));
  }
  Array operator()(const Array& x) {
    Array h = x;
    for (auto& l : layers) h = nnx::relu(l(h));
    Array out = Array::zeros({x.dim(0), 2}, DType::float32);
    for (auto& [name, head] : heads) out = nnx::add(out, head(h));
    return out;
  }
  NNX_FIELDS(layers, heads)
};

Array cache_input() { return nnx::init::normal(1.0)(nnx::key_from_seed(3), {5, 3}, DType::float32); }
Array cache_labels() { return Array::from_values<std::int32_t>({5}, {0, 1, 1, 0, 1}); }

template <class M> nnx::Array loss_of(M& m) { return nnx::softmax_cross_entropy(m(cache_input()), cache_labels()); }

// The gradient paths value_and_grad returns, and those nnx::state says the model has.
template <class M> void check_grads_match_state(M& model) {
  const nnx::State grads = nnx::grad(model, [](M& m) { return loss_of(m); });
  CHECK(paths_of(grads) == paths_of(nnx::state(model, nnx::Param{})));
}

}  // namespace

TEST_CASE("value_and_grad sees layers added to a vector or a dict, and a dict entry replaced, between steps") {
  nnx::Rngs rngs(1);
  Growing model(rngs);
  check_grads_match_state(model);  // caches the walk
  check_grads_match_state(model);  // from the cache
  model.layers.emplace_back(4, 4, rngs);
  check_grads_match_state(model);
  CHECK(paths_of(nnx::state(model, nnx::Param{})).size() == 6);
  // A dict entry erased and another inserted: the node memory may be reused at the same address.
  model.heads.erase("a");
  model.heads.emplace("b", nnx::Linear(4, 2, rngs));
  check_grads_match_state(model);
  const std::vector<std::string> paths = paths_of(nnx::grad(model, [](Growing& m) { return loss_of(m); }));
  CHECK(paths.front() == "heads/b/bias");  // sorted: heads/ before layers/; no heads/a left
}

TEST_CASE("a model rebuilt at the same address with another structure: the walk is recomputed") {
  nnx::Rngs rngs(2);
  std::optional<nnx::models::MLP> slot;
  slot.emplace(nnx::models::MLPConfig{.in = 3, .hidden = {4}, .out = 2}, rngs);
  check_grads_match_state(*slot);
  const void* first = &*slot;
  slot.emplace(nnx::models::MLPConfig{.in = 3, .hidden = {4, 6, 5}, .out = 2}, rngs);
  REQUIRE(&*slot == first);  // the interesting case: the same root address
  check_grads_match_state(*slot);
  CHECK(paths_of(nnx::state(*slot, nnx::Param{})).size() == 8);
}

TEST_CASE("train_step is bitwise value_and_grad followed by Optimizer::update, step after step") {
  for (const char* which : {"sgd", "adam"}) {
    CAPTURE(which);
    auto tx = [&] { return std::string(which) == "sgd" ? nnx::optim::sgd(0.1, 0.9) : nnx::optim::adam(1e-2); };
    nnx::Rngs rngs_a(4), rngs_b(4);
    nnx::models::MLP a({.in = 3, .hidden = {8, 8}, .out = 2}, rngs_a), b({.in = 3, .hidden = {8, 8}, .out = 2}, rngs_b);
    nnx::Optimizer opt_a(a, tx()), opt_b(b, tx());
    for (int step = 0; step < 5; ++step) {
      const Array loss_a = nnx::train_step(a, opt_a, [](nnx::models::MLP& m) { return loss_of(m); });
      auto [loss_b, grads] = nnx::value_and_grad(b, [](nnx::models::MLP& m) { return loss_of(m); });
      opt_b.update(b, std::move(grads));
      CHECK(nnx::array_equal(loss_a, loss_b));
    }
    CHECK(nnx::state_equal(nnx::state(a), nnx::state(b)));
    CHECK(nnx::state_equal(nnx::state(opt_a), nnx::state(opt_b)));
  }
}

TEST_CASE("an optimizer state replaced between steps (new Variables at new addresses) is the one updated") {
  nnx::Rngs rngs(5);
  nnx::models::MLP model({.in = 3, .hidden = {4}, .out = 2}, rngs);
  const double lr = 0.1, momentum = 0.5;
  nnx::Optimizer opt(model, nnx::optim::sgd(lr, momentum));
  for (int i = 0; i < 2; ++i) nnx::train_step(model, opt, [](nnx::models::MLP& m) { return loss_of(m); });

  // A fresh State (new map nodes): every trace set to 1.
  nnx::State replaced;
  for (const auto& [path, var] : opt.opt_state)
    replaced.set(path, nnx::OptState(Array::full(var.value.shape(), var.value.dtype(), 1.0)));
  const std::uint64_t before = opt.opt_state.structure_version();
  opt.opt_state = replaced;
  CHECK(opt.opt_state.structure_version() != before);

  const nnx::State params = nnx::state(model, nnx::Param{}).filter(nnx::Everything{});
  std::map<std::string, Array> old_values;
  for (const auto& [path, var] : params) old_values[path.str()] = var.value.copy();
  const nnx::State grads = nnx::grad(model, [](nnx::models::MLP& m) { return loss_of(m); });
  nnx::train_step(model, opt, [](nnx::models::MLP& m) { return loss_of(m); });
  // optax.trace: trace = g + momentum * 1; param -= lr * trace.
  int checked = 0;
  for (const auto& [path, var] : nnx::state(model, nnx::Param{})) {
    const Array& g = grads.at(path).value;
    const Array& old = old_values.at(path.str());
    for (std::int64_t i = 0; i < g.numel(); ++i) {
      const float trace = g.data<float>()[i] + static_cast<float>(momentum) * 1.0f;
      CHECK(var.value.data<float>()[i] == old.data<float>()[i] + trace * static_cast<float>(-lr));
      ++checked;
    }
    CHECK(nnx::array_equal(opt.opt_state.at(nnx::Path{"trace"} / path).value.reshape(g.shape()),
                           nnx::add(g, Array::full(g.shape(), DType::float32, momentum))));
  }
  CHECK(checked == 3 * 4 + 4 + 4 * 2 + 2);
}

TEST_CASE("train_step with an optimizer built for another model names the parameters, not a silent update") {
  nnx::Rngs rngs(6);
  nnx::models::MLP model({.in = 3, .hidden = {4}, .out = 2}, rngs);
  nnx::models::MLP other({.in = 3, .hidden = {4, 4}, .out = 2}, rngs);
  nnx::Optimizer opt(model, nnx::optim::sgd(0.1));
  nnx::train_step(model, opt, [](nnx::models::MLP& m) { return loss_of(m); });
  const nnx::State before = nnx::state(other);
  const std::string error = error_of([&] { nnx::train_step(other, opt, [](nnx::models::MLP& m) { return loss_of(m); }); });
  CHECK(has(error, "the gradients do not match the model's parameters"));
  CHECK(has(error, "layers/2"));
  CHECK(nnx::state_equal(nnx::state(other), before));  // nothing was updated
}
