// What the disk benchmarks share: a State of about N float32 parameters in layer-sized arrays, and
// the machine's limit for its bytes — a plain write(2)+fsync and read(2) of them.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <nnx/nnx.hpp>
#include <string>
#include <vector>

namespace bench {

// `params` float32 elements in arrays of at most 4M elements (like the layers of an MLP); abstract
// (shapes only, nothing allocated) when `with_values` is false: a restore's target.
inline nnx::State make_state(std::int64_t params, bool with_values = true) {
  nnx::State s;
  std::int64_t left = params;
  for (int i = 0; left > 0; ++i) {
    const std::int64_t n = std::min<std::int64_t>(left, 4 << 20);
    nnx::Array a = nnx::Array::abstract({n}, nnx::DType::float32);
    if (with_values) {
      a = nnx::Array::empty({n}, nnx::DType::float32);
      float* p = a.mutable_data<float>();
      for (std::int64_t k = 0; k < n; ++k) p[k] = static_cast<float>((k * 2654435761u) % 1000) * 1e-3f;
    }
    s.set(nnx::Path{"layers", i, "kernel"}, nnx::Param(a));
    left -= n;
  }
  return s;
}

inline void plain_write(const std::string& path, const nnx::State& s) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  for (const auto& [p, v] : s)
    if (::write(fd, v.value.raw_data(), v.value.nbytes()) != static_cast<ssize_t>(v.value.nbytes())) std::abort();
  if (::fsync(fd) != 0) std::abort();
  ::close(fd);
}

// Reads what plain_write wrote into new arrays shaped like `like`'s, which the caller keeps alive
// as a restored State would be (freeing each at once would hand the next one the same pages).
inline std::vector<nnx::Array> plain_read(const std::string& path, const nnx::State& like) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  std::vector<nnx::Array> arrays;
  for (const auto& [p, v] : like) {
    arrays.push_back(nnx::Array::empty(v.value.shape(), v.value.dtype()));
    if (::read(fd, arrays.back().mutable_raw_data(), arrays.back().nbytes()) != static_cast<ssize_t>(arrays.back().nbytes()))
      std::abort();
  }
  ::close(fd);
  return arrays;
}

// Whether plain_read's arrays hold `s`'s values.
inline bool same_values(const std::vector<nnx::Array>& arrays, const nnx::State& s) {
  std::size_t i = 0;
  for (const auto& [p, v] : s)
    if (i >= arrays.size() || !nnx::array_equal(arrays[i++], v.value)) return false;
  return i == arrays.size();
}

}  // namespace bench
