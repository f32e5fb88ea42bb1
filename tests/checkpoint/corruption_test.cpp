// Damaged array files: every flipped byte, every truncation and crafted indexes are reported as
// CheckpointError (format, corrupted or truncated) naming the file — never a crash, never wrong data.
#include <doctest/doctest.h>

#include <boost/filesystem.hpp>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include "fixtures.hpp"

using namespace checkpoint_test;

namespace {

constexpr std::size_t kHeader = 17, kFooter = 32;

void write_bytes(const std::string& file, const std::string& bytes) {
  boost::system::error_code ec;
  boost::filesystem::remove(file, ec);
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

std::uint64_t get_u64(const std::string& b, std::size_t at) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(b.at(at + static_cast<std::size_t>(i)));
  return v;
}
std::uint32_t get_u32(const std::string& b, std::size_t at) {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(b.at(at + static_cast<std::size_t>(i)));
  return v;
}
void put_u64(std::string& b, std::size_t at, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) b.at(at + static_cast<std::size_t>(i)) = static_cast<char>((v >> (8 * i)) & 0xff);
}
void put_u32(std::string& b, std::size_t at, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) b.at(at + static_cast<std::size_t>(i)) = static_cast<char>((v >> (8 * i)) & 0xff);
}

// Where the index lies, from the footer: (offset, size).
std::pair<std::size_t, std::size_t> index_span(const std::string& file_bytes) {
  const std::size_t footer = file_bytes.size() - kFooter;
  return {static_cast<std::size_t>(get_u64(file_bytes, footer)), static_cast<std::size_t>(get_u64(file_bytes, footer + 8))};
}

// Edits the index in place (same size) and writes a matching index checksum into the footer.
std::string patch_index(std::string bytes, const std::function<void(std::string&)>& edit) {
  const auto [offset, size] = index_span(bytes);
  std::string index = bytes.substr(offset, size);
  edit(index);
  REQUIRE(index.size() == size);
  bytes.replace(offset, size, index);
  put_u64(bytes, bytes.size() - kFooter + 16, ckpt::checksum(index.data(), index.size()));
  return bytes;
}

// Opens and reads the whole file: the State, or the CheckpointError it throws.
struct Outcome {
  std::optional<State> state;
  std::optional<ckpt::CheckpointError> error;
};
Outcome open_and_read(const std::string& file) {
  try {
    ckpt::ArrayFileReader reader(file);
    return {reader.read_all(), std::nullopt};
  } catch (const ckpt::CheckpointError& e) {
    return {std::nullopt, e};
  }
}

// A small file with several dtypes, an integer key, metadata and a 0-d array. The first entry
// in path order is "a" (float32[3], metadata {m: v}): the crafted-index tests rely on it.
State small_state() {
  State s;
  s.set(Path{"a"}, nnx::Param(Array::from_values<float>({3}, {1.f, -2.f, 3.5f}), {{"m", "v"}}));
  s.set(Path{"layers", 0, "w"}, nnx::Param(Array::from_values<std::int64_t>({2}, {-5, 1LL << 40})));
  s.set(Path{"layers", 1, "w"}, nnx::BatchStat(Array::from_values<double>({2, 2}, {0.5, 1.5, -2.5, 1e300})));
  s.set(Path{"s"}, nnx::RngCount(Array::scalar<std::uint32_t>(9u), {{"tag", "dropout"}}));
  return s;
}

struct Saved {
  TempDir dir{"nnx-corrupt"};
  std::string file = dir.file("state.nnxa");
  std::string damaged = dir.file("damaged.nnxa");
  State state = small_state();
  std::string bytes;
  std::vector<ckpt::ArrayEntry> entries;
  Saved() {
    ckpt::write_array_file(file, state);
    bytes = read_bytes(file);
    entries = ckpt::ArrayFileReader(file).index().entries;
  }
  // Writes `b` as the damaged file and expects `code` with every `parts` in the message.
  void expect(const std::string& b, ckpt::ErrorCode code, const std::vector<std::string>& parts) const {
    write_bytes(damaged, b);
    const Outcome out = open_and_read(damaged);
    REQUIRE(out.error.has_value());
    CHECK(out.error->code() == code);
    CHECK_CONTAINS(out.error->what(), damaged);
    for (const auto& p : parts) CHECK_CONTAINS(out.error->what(), p);
  }
};

}  // namespace

TEST_CASE("a flipped byte anywhere in an array file is reported, never read as data") {
  Saved saved;
  const std::string& original = saved.bytes;
  const auto [index_offset, index_size] = index_span(original);
  REQUIRE(index_offset + index_size + kFooter == original.size());
  REQUIRE(saved.entries.size() == 4);
  REQUIRE(saved.entries.front().offset == kHeader);

  int failures_seen = 0;
  for (std::size_t at = 0; at < original.size(); ++at) {
    for (unsigned char mask : {0x01, 0x80, 0xff}) {
      CAPTURE(at);
      CAPTURE(static_cast<int>(mask));
      std::string b = original;
      b[at] = static_cast<char>(b[at] ^ static_cast<char>(mask));
      write_bytes(saved.damaged, b);
      const Outcome out = open_and_read(saved.damaged);
      REQUIRE_MESSAGE(!out.state, "a flipped byte at ", at, " was accepted");  // every byte is checked
      ++failures_seen;
      const ckpt::CheckpointError& e = *out.error;
      const std::string what = e.what();
      CHECK_CONTAINS(what, saved.damaged);
      if (at < 13) {  // endianness flag, magic, version
        CHECK(e.code() == ckpt::ErrorCode::format);
        if (at >= 9) CHECK_CONTAINS(what, "format version");
        else CHECK_CONTAINS(what, "not an nnx array file");
      } else if (at < kHeader) {  // the reserved field
        CHECK(e.code() == ckpt::ErrorCode::corrupted);
        CHECK_CONTAINS(what, "reserved header field");
      } else if (at < index_offset) {  // an array's data
        CHECK(e.code() == ckpt::ErrorCode::corrupted);
        for (const auto& entry : saved.entries)
          if (at >= entry.offset && at < entry.offset + entry.nbytes) CHECK_CONTAINS(what, "'" + entry.path.str() + "'");
        CHECK_CONTAINS(what, "checksum does not match");
      } else if (at < original.size() - kFooter) {  // the index
        CHECK(e.code() == ckpt::ErrorCode::corrupted);
        CHECK_CONTAINS(what, "index checksum does not match");
      } else if (at < original.size() - 8) {  // footer: index offset, size and checksum
        CHECK(e.code() == ckpt::ErrorCode::corrupted);
      } else {  // footer: end marker
        CHECK(e.code() == ckpt::ErrorCode::truncated);
        CHECK_CONTAINS(what, "no end marker");
      }
    }
  }
  CHECK(failures_seen == 3 * static_cast<int>(original.size()));  // every byte, the reserved ones included
  MESSAGE("array file: ", original.size(), " bytes x 3 flips = ", failures_seen, " damaged files, every one refused");
}

TEST_CASE("a truncated array file is reported at every length") {
  Saved saved;
  const std::string& original = saved.bytes;
  const auto [index_offset, index_size] = index_span(original);
  (void)index_size;
  std::vector<std::size_t> lengths = {0, 1, 8, 16, 17, 40, 48, 49, 50, index_offset, index_offset + 10,
                                      original.size() - kFooter, original.size() - 9, original.size() - 1};
  for (std::size_t n = 0; n < original.size(); n += 7) lengths.push_back(n);
  for (std::size_t n : lengths) {
    CAPTURE(n);
    write_bytes(saved.damaged, original.substr(0, n));
    const Outcome out = open_and_read(saved.damaged);
    REQUIRE(out.error.has_value());
    CHECK((out.error->code() == ckpt::ErrorCode::truncated || out.error->code() == ckpt::ErrorCode::corrupted));
    CHECK_CONTAINS(out.error->what(), saved.damaged);
  }
  // Extra bytes appended after the footer are no better.
  write_bytes(saved.damaged, original + std::string(5, '\0'));
  REQUIRE(open_and_read(saved.damaged).error.has_value());
}

TEST_CASE("header damage: wrong magic, newer or zero version, another endianness flag") {
  Saved saved;
  std::string b = saved.bytes;
  std::memcpy(b.data() + 1, "NOTNNXAR", 8);
  saved.expect(b, ckpt::ErrorCode::format, {"not an nnx array file", "wrong magic"});

  b = saved.bytes;
  put_u32(b, 9, 99);
  saved.expect(b, ckpt::ErrorCode::format, {"format version 99", "upgrade nnx"});

  b = saved.bytes;
  put_u32(b, 9, 0);
  saved.expect(b, ckpt::ErrorCode::format, {"format version 0"});

  b = saved.bytes;
  b[0] = 0;  // a big-endian file flag: nnx writes little-endian only
  saved.expect(b, ckpt::ErrorCode::format, {"first byte is 0, expected 1"});

  saved.expect("this is a text file, not a checkpoint, but long enough to pass the size check",
               ckpt::ErrorCode::format, {"not an nnx array file"});
}

TEST_CASE("a crafted index that passes its checksum is refused before anything large is allocated") {
  Saved saved;
  const std::string& original = saved.bytes;
  const auto [index_offset, index_size] = index_span(original);
  const std::string index = original.substr(index_offset, index_size);
  // The first entry, "a": flag, count, key count 1, tag 0, length 1, 'a', kind length 5, "Param",
  // metadata count 1, "m" -> "v", dtype 0, rank 1, dim 3, offset 17, nbytes 12, checksum.
  REQUIRE(static_cast<unsigned char>(index[0]) == 1);
  REQUIRE(get_u64(index, 1) == 4);
  REQUIRE(get_u32(index, 9) == 1);
  REQUIRE(index[13] == 0);
  REQUIRE(get_u32(index, 14) == 1);
  REQUIRE(index[18] == 'a');
  REQUIRE(get_u32(index, 19) == 5);
  REQUIRE(index.substr(23, 5) == "Param");
  REQUIRE(get_u32(index, 28) == 1);
  REQUIRE(index[42] == 0);
  REQUIRE(index[43] == 1);
  REQUIRE(get_u64(index, 44) == 3);
  REQUIRE(get_u64(index, 52) == kHeader);
  REQUIRE(get_u64(index, 60) == 12);

  // The patch is sound apart from the edit: an unchanged index passes.
  write_bytes(saved.damaged, patch_index(original, [](std::string&) {}));
  REQUIRE(open_and_read(saved.damaged).state.has_value());

  struct Craft {
    const char* name;
    std::function<void(std::string&)> edit;
    std::vector<std::string> message;
  };
  const std::vector<Craft> crafts = {
      {"huge entry count", [](std::string& i) { put_u64(i, 1, 1ULL << 60); }, {"claims 1152921504606846976 arrays"}},
      {"entry count + 1", [](std::string& i) { put_u64(i, 1, 5); }, {"needs 4 bytes but only 0 are left"}},
      {"huge key count", [](std::string& i) { put_u32(i, 9, 0xffffffffu); }, {"a path claims 4294967295 keys"}},
      {"huge key length", [](std::string& i) { put_u32(i, 14, 0xfffffff0u); }, {"a path key claims 4294967280 bytes"}},
      {"key length past the end", [](std::string& i) { put_u32(i, 14, 1000000); }, {"a path key needs 1000000 bytes"}},
      {"huge kind length", [](std::string& i) { put_u32(i, 19, 0x7fffffffu); }, {"a kind name claims 2147483647 bytes"}},
      {"huge metadata count", [](std::string& i) { put_u32(i, 28, 0xffffffffu); }, {"a metadata count of 4294967295"}},
      {"unknown key tag", [](std::string& i) { i[13] = 7; }, {"type tag 7"}},
      {"unknown dtype", [](std::string& i) { i[42] = 9; }, {"a has dtype code 9"}},
      {"rank beyond the maximum", [](std::string& i) { i[43] = static_cast<char>(200); }, {"a has rank 200"}},
      {"huge dimension", [](std::string& i) { put_u64(i, 44, 1ULL << 62); }, {"larger than the file"}},
      {"negative dimension", [](std::string& i) { put_u64(i, 44, ~0ULL); }, {"a has a negative dimension"}},
      {"dimension one larger", [](std::string& i) { put_u64(i, 44, 4); }, {"a claims 12 bytes at offset 17"}},
      {"offset moved", [](std::string& i) { put_u64(i, 52, 18); }, {"do not fit the data section"}},
      {"nbytes beyond the data", [](std::string& i) { put_u64(i, 60, 1ULL << 40); }, {"do not fit the data section"}},
  };
  for (const Craft& c : crafts) {
    CAPTURE(std::string(c.name));
    std::vector<std::string> parts = c.message;
    parts.push_back("the index is corrupted");
    saved.expect(patch_index(original, c.edit), ckpt::ErrorCode::corrupted, parts);
  }
}

TEST_CASE("a crafted footer pointing outside the file is corrupted, not an I/O error") {
  Saved saved;
  const std::size_t size = saved.bytes.size(), footer = size - kFooter;
  struct Craft {
    const char* name;
    std::uint64_t offset, index_size;
  };
  for (const Craft& c : {Craft{"index larger than the file", 0, size + 1},
                         Craft{"index overlaps the footer", ~0ULL, size - kFooter + 1},
                         Craft{"index overlaps the header", kHeader - 1, size - kFooter - kHeader + 1},
                         Craft{"index size zero", size - kFooter, 0}}) {
    CAPTURE(std::string(c.name));
    std::string b = saved.bytes;
    put_u64(b, footer, c.offset);
    put_u64(b, footer + 8, c.index_size);
    write_bytes(saved.damaged, b);
    const Outcome out = open_and_read(saved.damaged);
    REQUIRE(out.error.has_value());
    CHECK(out.error->code() == ckpt::ErrorCode::corrupted);
    CHECK_CONTAINS(out.error->what(), saved.damaged);
  }
}

TEST_CASE("a damaged latest step fails to restore, naming file and path, the earlier step restores") {
  TempDir dir("nnx-corrupt-manager");
  nnx::Rngs rngs(0);
  nnx::models::MLP model({.in = 3, .hidden = {4}, .out = 2}, rngs);
  ckpt::CheckpointManager manager(dir.string());
  const State first = nnx::state(model);
  REQUIRE(manager.save(1, first));
  nnx::models::MLP other({.in = 3, .hidden = {4}, .out = 2}, rngs);  // other values, same structure
  REQUIRE(manager.save(2, nnx::state(other)));
  const State target = first.as_abstract();

  const std::string file = manager.step_directory(2) + "/default.nnxa";
  std::string b = read_bytes(file);
  ckpt::ArrayFileReader reader(file);
  const ckpt::ArrayEntry& victim = reader.index().entries.at(1);  // layers/0/kernel
  CHECK(victim.path.str() == "layers/0/kernel");
  b[victim.offset + victim.nbytes / 2] ^= 0x10;
  write_bytes(file, b);

  CHECK(manager.latest_step() == 2);  // still listed: it is committed
  for (int how = 0; how < 3; ++how) {
    CAPTURE(how);
    try {
      if (how == 0) manager.restore(manager.latest_step(), target);
      if (how == 1) manager.restore_state(2);
      if (how == 2) manager.restore_pure_dict();
      FAIL("a damaged step restored");
    } catch (const ckpt::CheckpointError& e) {
      CHECK(e.code() == ckpt::ErrorCode::corrupted);
      CHECK_CONTAINS(e.what(), file);
      CHECK_CONTAINS(e.what(), "'layers/0/kernel'");
      CHECK_CONTAINS(e.what(), "restore an earlier step");
    }
  }
  // A partial restore that does not touch the damaged array still works.
  State only_bias;
  only_bias.set(Path{"layers", 1, "bias"}, target.at("layers/1/bias"));
  CHECK(nnx::array_equal(manager.restore(2, only_bias, {.partial = true}).at("layers/1/bias").value,
                         nnx::state(other).at("layers/1/bias").value));

  CHECK(nnx::state_equal(manager.restore(1, target), first));

  // Damaged step metadata: restoring step 2 is corrupted, naming the metadata file.
  const std::string meta = manager.step_directory(2) + "/_METADATA.json";
  write_bytes(meta, "{\"format\": \"nnx-checkpoint\", \"format_version\": 1, \"step\": ");
  try {
    manager.restore(2, target);
    FAIL("damaged metadata restored");
  } catch (const ckpt::CheckpointError& e) {
    CHECK(e.code() == ckpt::ErrorCode::corrupted);
    CHECK_CONTAINS(e.what(), meta);
  }
  CHECK(nnx::state_equal(manager.restore(1, target), first));
}

TEST_CASE("every byte of a step is covered: a flipped byte in _METADATA.json, a JSON item or _COMMIT is refused") {
  TempDir dir("nnx-manifest");
  {
    ckpt::CheckpointManager manager(dir.string());
    manager.save(1, ckpt::Composite().add("model", hand_state()).add("note", ckpt::JsonItem::from_text(
                                                                                 R"({"format": "nnx-json-item", "format_version": 1, "value": 5})")),
                 {{"loss", 0.5}});
  }
  ckpt::Composite target;
  target.add("model", hand_state().as_abstract()).add("note", ckpt::JsonItem());
  int flips = 0;
  std::string report;
  for (const char* name : {"_METADATA.json", "note.json", "_COMMIT"}) {
    const std::string file = dir.file(std::string("1/") + name);
    const std::string original = read_bytes(file);
    REQUIRE(original.size() > 20);
    for (std::size_t at = 0; at < original.size(); ++at) {
      std::string b = original;
      b[at] = static_cast<char>(b[at] ^ 0x01);
      write_bytes(file, b);
      CAPTURE(name);
      CAPTURE(at);
      ckpt::CheckpointManager reader(dir.string(), {.read_only = true});
      bool refused = false;
      try {
        (void)reader.restore(1, target);
      } catch (const ckpt::CheckpointError&) {
        refused = true;
      }
      CHECK(refused);
      CHECK_FALSE(reader.verify(1).ok());
      flips += refused;
    }
    write_bytes(file, original);
    report += std::string(report.empty() ? "" : ", ") + name + " " + std::to_string(original.size()) + " flips";
  }
  MESSAGE(report, ": ", flips, " refused by restore and by verify");
  ckpt::CheckpointManager reader(dir.string(), {.read_only = true});
  CHECK(reader.verify(1).ok());  // restored bytes: sound again
  CHECK(flips > 500);
  make_format_1(dir.file("1"), 1);  // a step written by the format-1 nnx: read without a manifest
  CHECK(nnx::state_equal(ckpt::CheckpointManager(dir.string(), {.read_only = true}).restore(1, target).state("model"), hand_state()));
}
