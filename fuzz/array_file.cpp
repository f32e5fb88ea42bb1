// Fuzzes the array file reader: any bytes must give either the arrays or a CheckpointError naming
// the file — never another error, a crash, a hang, or an allocation larger than the file allows
// (run with -malloc_limit_mb).
#include <nnx/checkpoint/format.hpp>

#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto path = fuzz::scratch() / "input.nnxa";
  fuzz::write_file(path, data, size);
  try {
    nnx::checkpoint::ArrayFileReader reader(path.string());
    for (const auto& e : reader.index().entries) {
      nnx::Array a = reader.read(e);
      if (a.nbytes() != e.nbytes) __builtin_trap();
    }
    (void)reader.read_all();
  } catch (const nnx::checkpoint::CheckpointError& e) {  // nothing else may escape
    fuzz::check_names(e.what(), path.string());
  }
  return 0;
}
