// nnx/interop/npz.hpp — numpy's .npy and .npz containers: arrays numpy.load reads as is, and npz
// files numpy wrote, read back safely.
//
//   nnx::interop::write_npz("weights.npz", {{"layers.0.kernel", kernel}, {"layers.0.bias", bias}});
//   // Python: numpy.load("weights.npz")["layers.0.kernel"]
//   std::vector<nnx::interop::NamedArray> arrays = nnx::interop::read_npz("from_numpy.npz");
//   nnx::interop::save_npz("model.npz", nnx::state(model));   // names: layers.0.kernel (safetensors.hpp's rule)
//   nnx::State s = nnx::interop::load_npz("model.npz");        // Params at the paths the names give
//
// An npz is a zip archive of "<name>.npy" entries (numpy.savez: stored; savez_compressed: deflate;
// both are read). A .npy is: the magic "\x93NUMPY", version 1.0 (2.0 and 3.0 read too: a 4-byte
// header length), a Python-dict header {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// padded with spaces to a multiple of 64 bytes and ended by '\n', then the elements, row-major.
// Written: version 1.0, little-endian descr ('<f4', '<f8', '<i4', '<i8', '<u4'). Read: those, and
// their big-endian forms ('>f4', ...: converted); any other dtype, and fortran_order True, is an
// error naming the entry and saying how to convert it in numpy.
//
// Reading is bounded: the zip's structure is checked by libzip (ZIP_CHECKCONS, CRC-32 of every
// entry); an entry may claim at most its compressed size (stored) or 1,100 times it (deflate's limit
// is ~1,032), so memory never exceeds what the archive can really hold; the .npy header is at most
// 64 KiB and its shape × dtype size must equal the bytes the entry holds. Errors are
// nnx::checkpoint::CheckpointError naming the file, the entry and the problem.
#pragma once

#include <string>
#include <vector>

#include "nnx/array.hpp"
#include "nnx/state.hpp"

namespace nnx::interop {

struct NamedArray {
  std::string name;  // the npz key, without ".npy"
  Array array;
};

// Writes `arrays` (concrete; names unique and non-empty) as an npz, durably: a temporary file beside
// `path`, fsynced, renamed into place. Entries are stored uncompressed, in the order given.
void write_npz(const std::string& path, const std::vector<NamedArray>& arrays);
// Reads every entry of the npz at `path` (a regular file; symbolic links are refused).
std::vector<NamedArray> read_npz(const std::string& path);
// The same from bytes in memory; `name` is what errors call them.
std::vector<NamedArray> read_npz_bytes(const void* data, std::size_t size, const std::string& name);

// A State as an npz under the flat names of safetensors.hpp (layers/0/kernel -> "layers.0.kernel").
// npz has no place for kinds or variable metadata: they are not saved (use safetensors to keep them),
// and load_npz gives Params at the paths the names give (canonical decimal components: integer keys).
// Two paths with one name are refused.
void save_npz(const std::string& path, const State& state);
State load_npz(const std::string& path);

// One .npy: its bytes, and an Array from bytes (errors name `where`).
std::string npy_bytes(const Array& array);
Array parse_npy(const void* data, std::size_t size, const std::string& where);

}  // namespace nnx::interop
