// Internal: the pieces of .npy that npz.cpp needs to read an entry straight into an Array.
#pragma once

#include <string>

#include "nnx/array.hpp"

namespace nnx::interop {

struct NpyHeader {
  std::string descr;
  bool fortran_order = false;
  Shape shape;
  DType dtype = DType::float32;
  bool big_endian = false;
  std::size_t data_offset = 0;  // where the elements start
};

// The magic, version, length and padded dict of `array` (version 1.0, little-endian).
std::string npy_header(const Array& array);
// Parses and checks the header of a .npy of `size` bytes whose first bytes are at `p` (at least
// min(size, 10 + 64 KiB) of them): supported dtype, C order, shape × dtype size == size − data_offset.
NpyHeader read_npy_header(const unsigned char* p, std::size_t size, const std::string& where);
// Swaps each element's bytes when they were stored big-endian.
void to_native_order(Array& array, bool big_endian);

}  // namespace nnx::interop
