// Fuzzes the step metadata reader (_METADATA.json, cereal JSON) and JSON item validation.
#include <nnx/checkpoint/manager.hpp>

#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto dir = fuzz::scratch() / "step";
  std::filesystem::create_directories(dir);
  fuzz::write_file(dir / "_METADATA.json", data, size);
  try {
    const nnx::checkpoint::StepMetadata m = nnx::checkpoint::read_step_metadata(dir.string());
    (void)m.bytes();
  } catch (const nnx::Error&) {
  }
  try {
    nnx::checkpoint::JsonItem::from_text(std::string(reinterpret_cast<const char*>(data), size)).validate();
  } catch (const nnx::Error&) {
  }
  return 0;
}
