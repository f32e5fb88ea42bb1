// safetensors from strangers: every damaged or malicious header is refused with a CheckpointError of
// the right code naming the file, the tensor and the problem; nothing is allocated beyond the file.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <random>

#include "fixtures.hpp"

using namespace interop_test;

namespace {

std::string hostile_entry(const std::string& name, const std::string& dtype, const std::string& shape, std::uint64_t b,
                          std::uint64_t e) {
  return "\"" + name + R"(":{"dtype":")" + dtype + R"(","shape":)" + shape + R"(,"data_offsets":[)" + std::to_string(b) +
         "," + std::to_string(e) + "]}";
}

}  // namespace

TEST_CASE("safetensors: damaged and malicious files are refused, each with the code and a message that names it") {
  TempDir dir("nnx-st-hostile");
  const std::string f8 = std::string(8, '\0');
  std::string huge_len(8, '\0');
  huge_len[2] = 0x10;  // 1 MB of header claimed
  std::string over_bound(8, '\0');
  const std::uint64_t bound = nnx::interop::kMaxSafetensorsHeaderBytes + 1;
  std::memcpy(over_bound.data(), &bound, 8);
  struct Case {
    const char* what;
    std::string bytes;
    ckpt::ErrorCode code;
    std::string message;
  };
  const Case cases[] = {
      {"empty file", "", ckpt::ErrorCode::truncated, "starts with an 8-byte header length"},
      {"header longer than the file", huge_len + "{}", ckpt::ErrorCode::truncated, "only 2 follow the length"},
      {"header beyond the 100 MB bound", over_bound + "{}", ckpt::ErrorCode::corrupted, "more than the 100000000"},
      {"not UTF-8", st_file("{\"\xc3\x28\":1}"), ckpt::ErrorCode::corrupted, "not UTF-8 (byte 2"},
      {"not an object", st_file("[1,2]"), ckpt::ErrorCode::corrupted, "expected '{'"},
      {"truncated JSON", st_file("{\"w\":{\"dtype\""), ckpt::ErrorCode::corrupted, "expected ':'"},
      {"garbage after the object", st_file("{} x"), ckpt::ErrorCode::corrupted, "bytes after the header's JSON object"},
      {"unknown dtype", st_file("{" + hostile_entry("w", "F99", "[1]", 0, 4) + "}", f8.substr(0, 4)), ckpt::ErrorCode::format,
       "tensor 'w': unknown dtype 'F99'"},
      {"a dtype nnx has no type for", st_file("{" + hostile_entry("h", "F16", "[2]", 0, 4) + "}", f8.substr(0, 4)),
       ckpt::ErrorCode::format, "tensor 'h': dtype 'F16', which nnx has no type for"},
      {"shape and offsets disagree", st_file("{" + hostile_entry("w", "F32", "[3]", 0, 8) + "}", f8), ckpt::ErrorCode::corrupted,
       "F32 of shape [3] takes 12 bytes, but data_offsets [0, 8] span 8"},
      {"a gap", st_file("{" + hostile_entry("a", "F32", "[1]", 0, 4) + "," + hostile_entry("b", "F32", "[1]", 8, 12) + "}", f8 + f8),
       ckpt::ErrorCode::corrupted, "tensor 'b': data_offsets begin at 8 where the previous tensor ends at 4 (a gap"},
      {"an overlap", st_file("{" + hostile_entry("a", "F32", "[2]", 0, 8) + "," + hostile_entry("b", "F32", "[1]", 4, 8) + "}", f8),
       ckpt::ErrorCode::corrupted, "(an overlap"},
      {"not from offset 0", st_file("{" + hostile_entry("a", "F32", "[1]", 4, 8) + "}", f8), ckpt::ErrorCode::corrupted,
       "tensor 'a': data_offsets begin at 4"},
      {"past the end of the file", st_file("{" + hostile_entry("a", "F64", "[4]", 0, 32) + "}", f8), ckpt::ErrorCode::truncated,
       "the tensors span 32 bytes after the header, the file holds 8"},
      {"bytes no tensor claims", st_file("{" + hostile_entry("a", "F32", "[1]", 0, 4) + "}", f8), ckpt::ErrorCode::corrupted,
       "bytes no tensor claims"},
      {"end before begin", st_file("{" + hostile_entry("a", "F32", "[0]", 8, 4) + "}", f8), ckpt::ErrorCode::corrupted,
       "end before they begin"},
      {"a shape whose size overflows",
       st_file("{" + hostile_entry("a", "F64", "[4294967296,4294967296]", 0, 0) + "}"), ckpt::ErrorCode::corrupted,
       "overflows 64 bits"},
      {"an offset beyond u64", st_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,99999999999999999999]}})"),
       ckpt::ErrorCode::corrupted, "beyond 2^64 - 1"},
      {"more than 8 dimensions", st_file("{" + hostile_entry("a", "F32", "[1,1,1,1,1,1,1,1,1]", 0, 4) + "}", f8.substr(0, 4)),
       ckpt::ErrorCode::corrupted, "more than 8 dimensions"},
      {"a tensor twice", st_file("{" + hostile_entry("a", "F32", "[1]", 0, 4) + "," + hostile_entry("a", "F32", "[1]", 4, 8) + "}", f8),
       ckpt::ErrorCode::corrupted, "the tensor 'a' appears twice"},
      {"an unknown field", st_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":1}})", f8.substr(0, 4)),
       ckpt::ErrorCode::corrupted, "unknown field 'x'"},
      {"a field missing", st_file(R"({"a":{"dtype":"F32","shape":[1]}})"), ckpt::ErrorCode::corrupted, "the entry lacks data_offsets"},
      {"a negative dimension", st_file(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})"), ckpt::ErrorCode::corrupted,
       "expected an integer >= 0"},
      {"a fraction", st_file(R"({"a":{"dtype":"F32","shape":[1.0],"data_offsets":[0,4]}})"), ckpt::ErrorCode::corrupted,
       "a number with a fraction"},
      {"metadata that is not strings", st_file(R"({"__metadata__":{"k":1}})"), ckpt::ErrorCode::corrupted,
       "the value of 'k' must be a string"},
      {"a bad escape", st_file(R"({"__metadata__":{"k":"\x"}})"), ckpt::ErrorCode::corrupted, "unknown escape"},
      {"a lone surrogate", st_file(R"({"__metadata__":{"k":"\udc00"}})"), ckpt::ErrorCode::corrupted, "lone low surrogate"},
      {"nested 100000 deep", st_file(std::string(100000, '[')), ckpt::ErrorCode::corrupted, "expected '{'"},
      {"nnx metadata of a newer nnx",
       st_file(R"({"__metadata__":{"nnx.format":"nnx-safetensors 2"}})"), ckpt::ErrorCode::format, "load it with a newer nnx"},
      {"nnx metadata without its format",
       st_file(R"({"__metadata__":{"nnx.kind.a":"Param"},)" + hostile_entry("a", "F32", "[1]", 0, 4) + "}", f8.substr(0, 4)),
       ckpt::ErrorCode::format, "without \"nnx.format\""},
      {"a tensor without its kind",
       st_file(R"({"__metadata__":{"nnx.format":"nnx-safetensors 1"},)" + hostile_entry("a", "F32", "[1]", 0, 4) + "}", f8.substr(0, 4)),
       ckpt::ErrorCode::corrupted, "tensor 'a': no \"nnx.kind.a\" entry"},
      {"a kind for no tensor",
       st_file(R"({"__metadata__":{"nnx.format":"nnx-safetensors 1","nnx.kind.b":"Param"}})"), ckpt::ErrorCode::corrupted,
       "'nnx.kind.b' names no tensor"},
      {"a path that is not the name's",
       st_file(R"({"__metadata__":{"nnx.format":"nnx-safetensors 1","nnx.kind.a":"Param","nnx.path.a":"[\"b\"]"},)" +
                   hostile_entry("a", "F32", "[1]", 0, 4) + "}", f8.substr(0, 4)),
       ckpt::ErrorCode::corrupted, "its nnx.path 'b' has another name"},
      {"a broken path",
       st_file(R"({"__metadata__":{"nnx.format":"nnx-safetensors 1","nnx.kind.a":"Param","nnx.path.a":"[\"a\""},)" +
                   hostile_entry("a", "F32", "[1]", 0, 4) + "}", f8.substr(0, 4)),
       ckpt::ErrorCode::corrupted, "tensor 'a': nnx.path, byte 4: expected ',' or ']'"},
  };
  const std::string path = dir.file("bad.safetensors");
  for (const Case& c : cases) {
    CAPTURE(c.what);
    write_bytes(path, c.bytes);
    const auto e = expect_checkpoint_error([&] { (void)nnx::interop::load_safetensors(path); });
    CHECK(e.code() == c.code);
    CHECK_CONTAINS(e.what(), c.message);
    CHECK_CONTAINS(e.what(), path);
  }
}

TEST_CASE("safetensors: every truncation of a real file is refused, a flipped header byte is refused or gives another valid file") {
  TempDir dir("nnx-st-hostile");
  nnx::Rngs rngs(3);
  nnx::models::MLP model({.in = 3, .hidden = {4}, .out = 2, .dropout = 0.1, .batch_norm = true}, rngs);
  const State s = nnx::state(model);
  const std::string good = dir.file("good.safetensors"), bad = dir.file("bad.safetensors");
  nnx::interop::save_safetensors(good, s);
  const std::string bytes = read_bytes(good);
  for (std::size_t n = 0; n < bytes.size(); n += 7) {  // every truncation (a stride keeps it quick)
    CAPTURE(n);
    write_bytes(bad, bytes.substr(0, n));
    (void)expect_checkpoint_error([&] { (void)nnx::interop::load_safetensors(bad); });
  }
  std::uint64_t header = 0;
  std::memcpy(&header, bytes.data(), 8);
  std::mt19937 rng(11);
  int refused = 0, loaded = 0;
  for (std::size_t i = 0; i < 8 + header; ++i) {  // every header byte, one random bit flip each
    std::string flipped = bytes;
    flipped[i] = static_cast<char>(flipped[i] ^ (1 << (rng() % 8)));
    write_bytes(bad, flipped);
    try {
      const State back = nnx::interop::load_safetensors(bad);
      ++loaded;  // a flip inside a name or a kind may give another valid file: never the original's values under a wrong dtype
      for (const auto& [path, var] : back) CHECK(var.value.nbytes() <= bytes.size());
    } catch (const ckpt::CheckpointError&) {
      ++refused;
    }
  }
  MESSAGE("header bytes flipped: " << refused << " refused, " << loaded << " loaded as another valid file");
  CHECK(refused > loaded);
}

TEST_CASE("safetensors: a symbolic link or a FIFO in place of the file is refused at once") {
  TempDir dir("nnx-st-hostile");
  State s;
  s.set(Path{"w"}, nnx::Param(Array::ones({2}, DType::float32)));
  nnx::interop::save_safetensors(dir.file("real.safetensors"), s);
  REQUIRE(::symlink(dir.file("real.safetensors").c_str(), dir.file("link.safetensors").c_str()) == 0);
  REQUIRE(::mkfifo(dir.file("fifo.safetensors").c_str(), 0644) == 0);
  const auto link = expect_checkpoint_error([&] { (void)nnx::interop::load_safetensors(dir.file("link.safetensors")); });
  CHECK_CONTAINS(link.what(), "symbolic link");
  const auto fifo = expect_checkpoint_error([&] { (void)nnx::interop::load_safetensors(dir.file("fifo.safetensors")); });
  CHECK_CONTAINS(fifo.what(), "FIFO");
  const auto missing = expect_checkpoint_error([&] { (void)nnx::interop::load_safetensors(dir.file("none.safetensors")); });
  CHECK(missing.code() == ckpt::ErrorCode::not_found);
}
