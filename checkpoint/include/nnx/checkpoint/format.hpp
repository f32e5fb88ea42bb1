// nnx/checkpoint/format.hpp — the array file: one State, its arrays and a checksummed index.
//
//   std::uint64_t bytes = nnx::checkpoint::write_array_file("model.nnxa", state);  // fsynced
//   nnx::checkpoint::ArrayFileReader reader("model.nnxa");   // validates header, footer, index
//   for (const auto& e : reader.index().entries) reader.read(e);          // verifies checksums
//
// The byte layout is documented field by field in docs/checkpoint-format.md. In short: cereal
// portable binary (little-endian, fixed-width integers), a magic number and a format version at
// the start, the arrays' bytes, then an index (paths with integer keys kept as integers, kinds,
// metadata, dtypes, shapes, offsets, XXH3-64 checksums) and a fixed-size footer pointing at it.
// Every length and count read from a file is checked against the bytes left before anything is
// allocated: a corrupt file can never ask for more memory than its own size.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nnx/checkpoint/error.hpp"
#include "nnx/state.hpp"

namespace nnx::checkpoint {

inline constexpr std::uint32_t kArrayFormatVersion = 1;  // the newest version this build reads and writes

struct ArrayEntry {
  Path path;
  std::string kind;  // the Variable kind's name, e.g. "Param"
  Metadata metadata;
  DType dtype = DType::float32;
  Shape shape;
  std::uint64_t offset = 0;    // of the data, from the start of the file
  std::uint64_t nbytes = 0;    // numel * dtype size
  std::uint64_t checksum = 0;  // XXH3-64 of the stored bytes
};

struct ArrayIndex {
  std::uint32_t format_version = kArrayFormatVersion;
  std::uint64_t checksum = 0;       // XXH3-64 of the index (the footer's): covers every array's checksum
  std::vector<ArrayEntry> entries;  // in sorted path order
};

// Writes every variable of `state` (all concrete) to a new file at `path`, then fsyncs it.
// Returns the file's size. Throws CheckpointError (io) naming the file on any write failure.
std::uint64_t write_array_file(const std::string& path, const State& state);

class ArrayFileReader {
 public:
  explicit ArrayFileReader(const std::string& path);  // reads and validates the index
  ArrayFileReader(ArrayFileReader&&) noexcept;
  ~ArrayFileReader();

  const ArrayIndex& index() const { return index_; }
  const std::string& path() const;
  std::uint64_t file_size() const { return size_; }
  // A new Array with the entry's data, checksum verified.
  Array read(const ArrayEntry& entry) const;
  // Reads into `dst` (concrete, exactly the entry's dtype and shape), verifying the checksum.
  void read_into(const ArrayEntry& entry, Array& dst) const;
  // The whole file as a State with the stored kinds and metadata.
  State read_all() const;
  // Re-reads every array and checks its checksum; returns the failures (empty when sound).
  std::vector<std::string> verify() const;

 private:
  struct Impl;
  Impl* impl_;
  ArrayIndex index_;
  std::uint64_t size_ = 0;
};

// XXH3-64 of bytes; the checksum used in array files.
std::uint64_t checksum(const void* data, std::size_t n);

}  // namespace nnx::checkpoint
