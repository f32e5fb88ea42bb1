// tests/checkpoint/fixtures.hpp — what the checkpoint tests share: the usual names, a check that a
// message mentions something, catching the error an operation must throw, listing a directory.
//
//   #include "fixtures.hpp"
//   using namespace checkpoint_test;   // ckpt::, fs::, Array, DType, Path, State, Steps, the helpers
//
//   const ckpt::CheckpointError e = expect_checkpoint_error([&] { manager.restore(99, target); });
//   CHECK_CONTAINS(e.what(), "step 99");
//   CHECK(entries(dir).count(".nnx-writer.lock") == 1);
//   CHECK(leftovers(dir.string()).empty());
#pragma once

#include <doctest/doctest.h>

#include <boost/filesystem.hpp>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <nnx/checkpoint.hpp>
#include <nnx/models.hpp>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "temp_dir.hpp"

// A check that `part` occurs in `text`, printing both when it does not.
#define CHECK_CONTAINS(text, part)                                 \
  CHECK_MESSAGE(std::string(text).find(part) != std::string::npos, \
                "expected \"" << std::string(part) << "\" in: " << std::string(text))

namespace checkpoint_test {

namespace ckpt = nnx::checkpoint;
namespace fs = boost::filesystem;
using nnx::Array;
using nnx::DType;
using nnx::Path;
using nnx::State;
using Steps = std::vector<std::int64_t>;

// The `Error` that `f` throws; when it throws none, the test fails here with "no <name> was thrown".
template <class Error, class F> Error expect_thrown(F&& f, const char* name) {
  try {
    f();
  } catch (const Error& e) {
    return e;
  }
  FAIL("no " << name << " was thrown");
  throw std::logic_error("unreachable");
}

template <class F> ckpt::CheckpointError expect_checkpoint_error(F&& f) {
  return expect_thrown<ckpt::CheckpointError>(std::forward<F>(f), "CheckpointError");
}

template <class F> nnx::StructureError expect_structure_error(F&& f) {
  return expect_thrown<nnx::StructureError>(std::forward<F>(f), "StructureError");
}

// The names of the entries of `dir` (step directories, the writer lock, leftovers, ...).
// A small State of every common kind, with metadata; `shift` changes its values.
inline State hand_state(double shift = 0.0) {
  State s;
  s.set(Path{"layers", 0, "w"}, nnx::Param(Array::full({2, 3}, DType::float32, 1.0 + shift), {{"sharding", "rows"}}));
  s.set(Path{"bn", "mean"}, nnx::BatchStat(Array::full({3}, DType::float64, shift)));
  s.set(Path{"rngs", "count"}, nnx::RngCount(Array::scalar<std::uint32_t>(5u), {{"tag", "dropout"}}));
  s.set(Path{"step"}, nnx::OptState(Array::scalar<std::int64_t>(1234)));
  return s;
}

// Flips one bit of the stored data of `path` in the array file `file`.
inline void flip_byte(const std::string& file, const nnx::Path& path) {
  std::uint64_t offset = 0;
  {
    const ckpt::ArrayFileReader reader(file);
    bool found = false;
    for (const auto& e : reader.index().entries)
      if (e.path == path) {
        offset = e.offset + e.nbytes / 2;
        found = true;
      }
    REQUIRE(found);
  }
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  REQUIRE(f.good());
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x10);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(&c, 1);
  REQUIRE(f.good());
}

// Turns a committed step into a format-1 step (no manifest in _COMMIT, "format_version": 1), so that
// a test can damage _METADATA.json in ways the manifest would otherwise catch first.
inline void make_format_1(const std::string& step_dir, std::int64_t step) {
  std::ifstream in(step_dir + "/_METADATA.json");
  std::string text(std::istreambuf_iterator<char>(in), {});
  const std::string v2 = "\"format_version\": 2", v1 = "\"format_version\": 1";
  const auto at = text.find(v2);
  REQUIRE(at != std::string::npos);
  text.replace(at, v2.size(), v1);
  std::ofstream(step_dir + "/_METADATA.json", std::ios::trunc) << text;
  std::ofstream(step_dir + "/_COMMIT", std::ios::trunc) << "nnx-checkpoint 1 step " << step << "\n";
}

inline std::set<std::string> entries(const TempDir& dir) {
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(dir.path())) names.insert(e.path().filename().string());
  return names;
}

// The entries of `dir` an interrupted save (".nnx-tmp-") or deletion (".nnx-deleting-") left behind.
inline std::vector<std::string> leftovers(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.find(".nnx-tmp-") != std::string::npos || name.find(".nnx-deleting-") != std::string::npos) out.push_back(name);
  }
  return out;
}

// The bytes of `file` (empty when it cannot be read).
inline std::string read_bytes(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace checkpoint_test
