// The input of fuzz_step_dir: a whole step directory in a few bytes, read by the target and written
// by fuzz_seeds (from real steps the library saved).
//   [mode u8][step u8] then records [entry u8][length u16 LE][bytes]...
// entry & 7 picks the file's name from kNames, (entry >> 3) & 3 what is put there (EntryKind); a
// record cut short by the end of the input keeps what is there. Later records replace earlier ones.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace fuzz::step_dir {

// Every file a step holds or a reader may look for, and two that no step names.
inline constexpr const char* kNames[8] = {"_METADATA.json", "_COMMIT",   "model.nnxa", "progress.json",
                                          "default.nnxa",   "notes.txt", "model.json", "progress.nnxa"};
// What a record puts at its name. A symbolic link points at one of kLinkTargets (by its first byte).
enum class EntryKind : std::uint8_t { file = 0, directory = 1, symlink = 2, fifo = 3 };
inline constexpr const char* kLinkTargets[4] = {"/dev/zero", "_METADATA.json", "..", "/nonexistent/nnx"};

// Mode bits. Without them a mutated file mostly fails the manifest's checksum, so the fuzzer would
// rarely get past _COMMIT; with them the harness makes the mutated bytes consistent first and the
// fuzzer explores what is parsed after the checksums.
enum Mode : std::uint8_t {
  kRecommit = 1,          // rewrite _COMMIT as the manifest of the files as written (any _COMMIT record is ignored)
  kFixIndexChecksum = 2,  // in each .nnxa whose footer points at an index, store that index's real XXH3
  kExpandJson = 4,        // expand runs (fuzz::expand) in the JSON files and _COMMIT
};

struct Entry {
  std::uint8_t id = 0;  // the record's entry byte
  std::string bytes;
  std::string name() const { return kNames[id & 7]; }
  EntryKind kind() const { return static_cast<EntryKind>((id >> 3) & 3); }
};

struct Input {
  std::uint8_t mode = 0;
  std::uint8_t step = 0;
  std::vector<Entry> entries;
};

inline Input parse(const std::uint8_t* data, std::size_t size) {
  Input in;
  if (size < 2) return in;
  in.mode = data[0];
  in.step = data[1];
  for (std::size_t i = 2; i < size && in.entries.size() < 32;) {
    const std::uint8_t id = data[i++];
    std::size_t len = i < size ? data[i++] : 0;
    len |= (i < size ? std::size_t{data[i++]} : 0) << 8;
    len = std::min(len, size - i);
    in.entries.push_back({id, std::string(reinterpret_cast<const char*>(data + i), len)});
    i += len;
  }
  return in;
}

inline std::string encode(const Input& in) {
  std::string out{static_cast<char>(in.mode), static_cast<char>(in.step)};
  for (const Entry& e : in.entries) {
    out += static_cast<char>(e.id);
    out += static_cast<char>(e.bytes.size() & 0xff);
    out += static_cast<char>((e.bytes.size() >> 8) & 0xff);
    out += e.bytes;
  }
  return out;
}

}  // namespace fuzz::step_dir
