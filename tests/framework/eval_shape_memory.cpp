// eval_shape must not allocate parameter memory: count every byte operator new hands out.
#include <doctest/doctest.h>

#include <nnx/models.hpp>

#include "../alloc_counter.hpp"

namespace {
// 1024 -> 32768 -> 32768 -> 10 with biases.
nnx::models::MLPConfig billion() { return {.in = 1024, .hidden = {32768, 32768}, .out = 10, .dropout = 0.1}; }
}  // namespace

TEST_CASE("the allocation counter sees array buffers (so the next test can fail)") {
  std::size_t before = allocated_bytes();
  nnx::Array a = nnx::Array::zeros({1'000'000}, nnx::DType::float32);
  CHECK(allocated_bytes() - before >= 4'000'000);
}

TEST_CASE("eval_shape of a 1.1e9-parameter MLP allocates under 1 MB, and so does splitting it") {
  std::size_t before = allocated_bytes();
  auto abstract = nnx::eval_shape([] {
    nnx::Rngs rngs({{"params", 0}, {"dropout", 1}});
    return nnx::models::MLP(billion(), rngs);
  });
  auto [graphdef, abstract_state] = nnx::split(abstract);
  std::size_t used = allocated_bytes() - before;
  MESSAGE("eval_shape + split of a 1.1e9-parameter MLP allocated " << used << " bytes");
  CHECK(used < 1'000'000);
  const std::int64_t params = (1024 * 32768 + 32768) + (32768LL * 32768 + 32768) + (32768 * 10 + 10);
  CHECK(params == 1'107'689'482);
  CHECK(abstract.num_parameters() == params);
  CHECK(abstract_state.num_elements() == params + 3);  // + dropout's RNG key (2) and count (1)
  CHECK(abstract_state.num_bytes() == static_cast<std::size_t>(params + 3) * 4);
  for (const auto& [path, var] : abstract_state) CHECK(var.value.is_abstract());
  CHECK(abstract_state.at("layers/1/kernel").value.shape() == nnx::Shape{32768, 32768});
  CHECK(graphdef.type_name() == "MLP");
}

// Issue 14's lean step: once warm, a training step takes nothing from the system allocator —
// buffers come from the per-thread cache, the walk, tape and optimizer slots are reused.
TEST_CASE("a steady-state train_step allocates nothing (SGD with momentum and Adam, with and without dropout)") {
  struct Case {
    const char* name;
    nnx::models::MLPConfig config;
    bool adam;
  };
  const Case cases[] = {
      {"tiny sgd", {.in = 4, .hidden = {32, 32}, .out = 2}, false},
      {"tiny adam", {.in = 4, .hidden = {32, 32}, .out = 2}, true},
      {"small adam", {.in = 64, .hidden = {256, 256}, .out = 10}, true},
      {"dropout adam", {.in = 4, .hidden = {32, 32}, .out = 2, .dropout = 0.1}, true},
  };
  for (const Case& c : cases) {
    const std::string name = c.name;
    CAPTURE(name);
    nnx::Rngs rngs({{"params", 0}, {"dropout", 1}});
    nnx::models::MLP model(c.config, rngs);
    nnx::Optimizer opt(model, c.adam ? nnx::optim::adam(1e-3) : nnx::optim::sgd(0.01, 0.9));
    const nnx::Array x = nnx::init::normal(1.0)(nnx::key_from_seed(1), {32, c.config.in}, nnx::DType::float32);
    std::vector<std::int32_t> labels(32);
    for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<std::int32_t>(i % 2);
    const nnx::Array y = nnx::Array::from_values<std::int32_t>({32}, labels);
    auto step = [&] { return nnx::train_step(model, opt, [&](nnx::models::MLP& m) { return nnx::softmax_cross_entropy(m(x), y); }); };
    for (int i = 0; i < 5; ++i) step();
    const std::size_t before = allocation_calls();
    double last = 0;
    for (int i = 0; i < 50; ++i) last = step().item<float>();
    const std::size_t calls = allocation_calls() - before;
    MESSAGE(name << ": " << calls << " allocations in 50 steps (loss " << last << ")");
    CHECK(calls == 0);
    CHECK(opt.num_steps() == 55);  // the steps really ran
  }
}
