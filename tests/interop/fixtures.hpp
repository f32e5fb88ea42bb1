// tests/interop/fixtures.hpp — what the interop tests share: the checkpoint tests' helpers (TempDir,
// CHECK_CONTAINS, expect_checkpoint_error, expect_structure_error) and safetensors files built by hand.
//
//   const std::string bytes = st_file(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", std::string(8, '\0'));
//   write_bytes(dir.file("w.safetensors"), bytes);
#pragma once

#include <fstream>
#include <iterator>
#include <nnx/interop/safetensors.hpp>
#include <nnx/interop/torch.hpp>
#include <string>

#include "../checkpoint/fixtures.hpp"

namespace interop_test {

using namespace checkpoint_test;
namespace interop = nnx::interop;

// A safetensors file: the 8-byte little-endian length of `header`, `header`, then `data`.
inline std::string st_file(const std::string& header, const std::string& data = {}) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(static_cast<std::uint64_t>(header.size()) >> (8 * i));
  return out + header + data;
}

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}
}  // namespace interop_test
