// Fuzzes the step metadata reader (_METADATA.json, cereal JSON) and JSON item validation. The input
// is expanded first (fuzz::expand: a few bytes become 140,000 nested '[' or a long run), so that
// nesting and lengths far beyond -max_len are reached.
#include <nnx/checkpoint/manager.hpp>

#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto dir = fuzz::scratch() / "step";
  std::filesystem::create_directories(dir);
  const std::string text = fuzz::expand(data, size);
  fuzz::write_file(dir / "_METADATA.json", text.data(), text.size());
  try {
    const nnx::checkpoint::StepMetadata m = nnx::checkpoint::read_step_metadata(dir.string());
    (void)m.bytes();
  } catch (const nnx::Error&) {
  }
  try {
    nnx::checkpoint::JsonItem::from_text(text).validate();
  } catch (const nnx::Error&) {
  }
  return 0;
}
