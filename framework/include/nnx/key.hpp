// nnx/key.hpp — random keys and the Threefry-2x32 generator: pure functions of integers.
//
//   nnx::Key k = nnx::key_from_seed(0);
//   nnx::Key sub = nnx::fold_in(k, 7);                 // as jax.random.fold_in
//   std::uint64_t bits = nnx::random_bits(sub, i);     // bits of element i
//
// Split from rngs.hpp so that code needing only keys (ops.hpp, initializers) does not pull in
// Module and State. The generator is Threefry-2x32 with 20 rounds (Salmon et al. 2011).
#pragma once

#include <array>
#include <cstdint>

namespace nnx {

struct Key {
  std::uint32_t hi = 0, lo = 0;
  bool operator==(const Key&) const = default;
};

// Threefry-2x32, 20 rounds: the 64 output bits for `counter` under `key`.
std::array<std::uint32_t, 2> threefry2x32(Key key, std::array<std::uint32_t, 2> counter);
// The key of a seed, as jax.random.PRNGKey: {seed >> 32, seed & 0xffffffff}.
Key key_from_seed(std::uint64_t seed);
// A new key derived from `key` and `data`, as jax.random.fold_in: threefry(key, {0, data}).
Key fold_in(Key key, std::uint32_t data);
// Random bits for element `index`, attempt `attempt` of an array drawn from `key`. Initializers
// and dropout address bits by element, so results do not depend on threading or blocking.
inline std::uint64_t random_bits(Key key, std::uint32_t index, std::uint32_t attempt = 0) {
  auto w = threefry2x32(key, {index, attempt});
  return (std::uint64_t{w[0]} << 32) | w[1];
}

}  // namespace nnx
