// Fuzzes the step metadata reader (_METADATA.json, cereal JSON) and JSON item validation. The input
// is expanded first (fuzz::expand: a few bytes become 140,000 nested '[' or a long run), so that
// nesting and lengths far beyond -max_len are reached.
#include <nnx/checkpoint/manager.hpp>

#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto dir = fuzz::scratch() / "step";
  std::filesystem::create_directories(dir);
  // A format-1 _COMMIT (no manifest): the metadata is parsed, not refused by a manifest's checksum.
  static const std::string commit = "nnx-checkpoint 1 step 7\n";
  fuzz::write_file(dir / "_COMMIT", commit.data(), commit.size());
  const std::string text = fuzz::expand(data, size);
  fuzz::write_file(dir / "_METADATA.json", text.data(), text.size());
  try {
    const nnx::checkpoint::StepMetadata m = nnx::checkpoint::read_step_metadata(dir.string());
    (void)m.bytes();
  } catch (const nnx::checkpoint::CheckpointError& e) {  // nothing else may escape
    fuzz::check_names(e.what(), dir.string());
  }
  try {
    nnx::checkpoint::JsonItem::from_text(text).validate();
  } catch (const nnx::checkpoint::CheckpointError&) {  // a JsonItem is text: its errors name no file
  }
  return 0;
}
