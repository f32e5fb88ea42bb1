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
