// Fuzzes the safetensors reader and the State it gives: any bytes must give either the tensors or a
// CheckpointError — never a crash, a hang, or an allocation larger than the file allows (run with
// -malloc_limit_mb) — and a file that loads must save and load again to the same State.
#include <nnx/interop/safetensors.hpp>

#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto path = fuzz::scratch() / "input.safetensors";
  fuzz::write_file(path, data, size);
  nnx::State state;
  try {
    const nnx::interop::SafetensorsFile file = nnx::interop::read_safetensors(path.string());
    std::uint64_t bytes = 0;
    for (const auto& t : file.tensors) bytes += t.value.nbytes();
    if (bytes > size) __builtin_trap();  // more tensor bytes than the file holds
    state = nnx::interop::from_safetensors(file, path.string());
  } catch (const nnx::checkpoint::CheckpointError&) {
    return 0;
  }
  // What loads round-trips exactly (or is refused when saving, loudly: two paths with one name).
  const auto again = fuzz::scratch() / "again.safetensors";
  try {
    nnx::interop::save_safetensors(again.string(), state);
  } catch (const nnx::checkpoint::CheckpointError&) {
    return 0;
  }
  if (!nnx::state_equal(nnx::interop::load_safetensors(again.string()), state)) __builtin_trap();
  return 0;
}
