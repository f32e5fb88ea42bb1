// A State's values as bytes for a broadcast, checked on arrival against the receiver's own State.
//
// Layout (little-endian): u64 signature length, the signature (one line per variable: path, kind,
// dtype and shape), u64 data length, then every value's bytes in path order. The receiver compares
// the signature with its own State's: the sender and the receiver must hold the same structure.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nnx/state.hpp"

namespace nnx::distributed::detail {

std::vector<std::uint8_t> state_to_bytes(const State& state);
// Replaces every value of `state` by the one in `bytes`; throws nnx::Error naming `what` and the
// first difference when the structure or a length does not match.
void state_from_bytes(State& state, const std::vector<std::uint8_t>& bytes, const std::string& what);

}  // namespace nnx::distributed::detail
