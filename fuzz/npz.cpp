// Fuzzes the npz reader (zip container through libzip, then each .npy header and its data): any
// bytes give arrays whose byte size matches their shape, or a CheckpointError naming the entry.
// Seeds: a small npz nnx wrote, and the regressions in fuzz/regressions/npz.
#include <nnx/checkpoint/error.hpp>
#include <nnx/interop/npz.hpp>

#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    for (const auto& a : nnx::interop::read_npz_bytes(data, size, "fuzz.npz"))
      if (a.array.nbytes() != static_cast<std::size_t>(a.array.numel()) * nnx::dtype_size(a.array.dtype())) __builtin_trap();
    (void)nnx::interop::parse_npy(data, size, "fuzz.npy");  // the same bytes as a bare .npy
  } catch (const nnx::checkpoint::CheckpointError&) {
  }
  return 0;
}
