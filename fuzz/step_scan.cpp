// Fuzzes the scan of a checkpoint directory: the input describes directory entries (names, whether
// each has a _COMMIT marker, and its metadata bytes); a read-only manager then lists, inspects and
// restores whatever it finds. Only CheckpointError / nnx::Error may come out. Metadata bytes are
// expanded (fuzz::expand), so that deep nesting fits in a record.
#include <nnx/checkpoint.hpp>

#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto dir = fuzz::scratch() / "ckpt";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  // Records: [flags u8][name length u8][name][metadata length u8][metadata bytes]...
  std::size_t i = 0;
  for (int entries = 0; i + 2 <= size && entries < 16; ++entries) {
    const std::uint8_t flags = data[i++];
    const std::size_t wanted_name = data[i++] % 24;
    const std::size_t name_len = std::min<std::size_t>(wanted_name, size - i);
    std::string name;
    for (std::size_t k = 0; k < name_len; ++k) {
      const char c = static_cast<char>(data[i + k]);
      name += (c == '/' || c == '\0') ? '_' : c;  // one path component
    }
    i += name_len;
    if (name.empty() || name == "." || name == "..") continue;
    std::size_t meta_len = 0;
    if (i < size) {
      const std::size_t wanted_meta = data[i++];
      meta_len = std::min<std::size_t>(wanted_meta, size - i);
    }
    const auto entry = dir / name;
    std::error_code ec;
    if (flags & 1) {
      std::filesystem::create_directories(entry, ec);
      if (ec) continue;
      if (flags & 2) fuzz::write_file(entry / "_COMMIT", data + i, 0);
      if (flags & 4) {
        const std::string text = fuzz::expand(data + i, meta_len);
        fuzz::write_file(entry / "_METADATA.json", text.data(), text.size());
      }
      if (flags & 8) fuzz::write_file(entry / "default.nnxa", data + i, meta_len);
    } else {
      fuzz::write_file(entry, data + i, meta_len);
    }
    i += meta_len;
  }
  try {
    nnx::checkpoint::CheckpointManager m(dir.string(), {.step_prefix = (size % 2) ? "step" : "", .read_only = true});
    for (std::int64_t s : m.all_steps()) {
      try {
        (void)m.metadata(s);
        (void)m.restore_state(s);
      } catch (const nnx::Error&) {
      }
    }
    (void)m.latest_step();
  } catch (const nnx::Error&) {
  }
  return 0;
}
