// Fuzzes the reader of the bytes rank 0 broadcasts when a distributed run resumes
// (distributed/src/state_bytes.hpp): any bytes must give either the values or an nnx::Error
// naming the mismatch — never a crash, a hang or an allocation beyond the receiver's own State —
// and bytes that are accepted must be exactly what the sender would have written.
#include <cstring>
#include <vector>

#include "../distributed/src/state_bytes.hpp"
#include "state_bytes_target.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::vector<std::uint8_t> bytes(data, data + size);
  nnx::State state = fuzz::state_bytes_target();
  try {
    nnx::distributed::detail::state_from_bytes(state, bytes, "fuzz");
  } catch (const nnx::Error&) {
    return 0;
  }
  if (nnx::distributed::detail::state_to_bytes(state) != bytes) __builtin_trap();  // accepted: must round-trip
  return 0;
}
