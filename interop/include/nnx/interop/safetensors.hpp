// nnx/interop/safetensors.hpp — weights in and out of the safetensors format (Hugging Face), read by
// PyTorch, numpy, JAX, Candle and every other framework that loads untrusted weights without pickle.
//
//   nnx::interop::save_safetensors("model.safetensors", nnx::state(model));   // durable: temp + fsync + rename
//   nnx::State s = nnx::interop::load_safetensors("model.safetensors");       // kinds, integer keys, metadata back
//   nnx::PureDict d = nnx::interop::load_safetensors_dict("downloaded.safetensors");  // anyone's file
//
// The file, exactly as published: a u64 little-endian header length N; N bytes of UTF-8 JSON mapping each
// tensor name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets from the first byte after the
// header), plus an optional "__metadata__" object of strings; then the tensors' bytes, little-endian,
// row-major, back to back with no gap. docs/interop.md describes the names, the "nnx.*" metadata entries
// and the bounds of the reader.
//
// Names. A path's keys joined with '.', integer keys in decimal: layers/0/kernel <-> "layers.0.kernel".
// Reading a name without nnx metadata (a file written by someone else), each '.'-separated component
// spelled as a canonical decimal (0, or a digit 1-9 followed by digits, fitting int64) becomes an
// integer key, every other component a string key. When a path would not come back by that rule (a
// string key "0" or "a.b"), save_safetensors records the real path in the metadata, so nnx -> file ->
// nnx is exact; two paths with one name (a.b/c and a/b.c) are refused when saving.
//
// Errors. Every failure is an nnx::checkpoint::CheckpointError (nnx/checkpoint/error.hpp) naming the
// file, the tensor and the problem: a safetensors file is a checkpoint in a foreign format, and one
// exception type with one set of codes (not_found, corrupted, truncated, format, io, usage) serves
// whoever loads weights from anywhere.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "nnx/array.hpp"
#include "nnx/checkpoint/error.hpp"
#include "nnx/path.hpp"
#include "nnx/pure_dict.hpp"
#include "nnx/state.hpp"

namespace nnx::interop {

// The reader's bounds: the header (JSON) may hold at most this many bytes, as in the reference
// implementation; a tensor at most Shape::max_rank (8) dimensions.
inline constexpr std::uint64_t kMaxSafetensorsHeaderBytes = 100'000'000;

// The value of "nnx.format" in files save_safetensors writes.
inline constexpr std::string_view kSafetensorsFormat = "nnx-safetensors 1";

// One tensor of a safetensors file under its flat name.
struct NamedTensor {
  std::string name;
  Array value;
};

// A safetensors file as it is: the tensors in file order (by offset) and the "__metadata__" map.
struct SafetensorsFile {
  std::vector<NamedTensor> tensors;
  std::map<std::string, std::string> metadata;
};

// Reads any safetensors file. Refuses (CheckpointError, naming file and tensor): a header longer than
// kMaxSafetensorsHeaderBytes or than the file; JSON that is not UTF-8 or not the format's grammar;
// a duplicate name; an unknown dtype (named) or one nnx has no type for (F16, BF16, U8, ... : named,
// with what to do); offsets that overlap, leave gaps, are out of order or run past the file; a shape
// whose size (overflow-checked) times the dtype's does not equal end - begin. Nothing is allocated
// before every size was checked against the bytes present.
SafetensorsFile read_safetensors(const std::string& path);

// Writes `file` durably (a temporary file beside `path`, fsync, rename, fsync of the directory),
// replacing `path`. Tensors are laid out as the reference writer lays them out — by dtype alignment,
// largest first (U64, I64, F64, F32, U32, I32), then by name — and the header is the compact JSON
// the reference writes ("__metadata__" first, its keys sorted), padded with spaces to a multiple of
// 8 bytes, so the bytes equal Python's safetensors.numpy.save_file for the same tensors and (at most
// one-entry) metadata. Refuses abstract arrays, duplicate names and names that are not UTF-8.
void write_safetensors(const std::string& path, const SafetensorsFile& file);

struct SafetensorsOptions {
  // Written into "__metadata__" beside the "nnx.*" entries; keys starting with "nnx." are refused.
  std::map<std::string, std::string> metadata;
};

// The flat name of a path: keys joined with '.', integer keys in decimal.
std::string safetensors_name(const Path& path);
// The path a name gives without nnx metadata: canonical decimal components become integer keys.
Path path_from_safetensors_name(std::string_view name);

// The State as a safetensors file in memory (names, "nnx.*" metadata, Arrays shared), and back.
// Refuses (usage) two paths with one name and caller metadata keys starting "nnx."; write_safetensors
// refuses abstract values.
SafetensorsFile to_safetensors(const State& state, const SafetensorsOptions& options = {});
// A file with "nnx.format" gives back the saved paths, kinds and metadata exactly; a file without
// gives Params at the paths the names give (path_from_safetensors_name). `file_name` is only for
// messages.
State from_safetensors(const SafetensorsFile& file, const std::string& file_name);

void save_safetensors(const std::string& path, const State& state, const SafetensorsOptions& options = {});
State load_safetensors(const std::string& path);
PureDict load_safetensors_dict(const std::string& path);

}  // namespace nnx::interop
