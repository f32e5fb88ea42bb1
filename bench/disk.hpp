// What the disk benchmarks share: a State of about N float32 parameters in layer-sized arrays, and
// the machine's limit for its bytes — a plain write(2)+fsync of them.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <nnx/nnx.hpp>
#include <string>

namespace bench {

// `params` float32 elements in arrays of at most 4M elements (like the layers of an MLP).
inline nnx::State make_state(std::int64_t params) {
  nnx::State s;
  std::int64_t left = params;
  for (int i = 0; left > 0; ++i) {
    const std::int64_t n = std::min<std::int64_t>(left, 4 << 20);
    nnx::Array a = nnx::Array::empty({n}, nnx::DType::float32);
    float* p = a.mutable_data<float>();
    for (std::int64_t k = 0; k < n; ++k) p[k] = static_cast<float>((k * 2654435761u) % 1000) * 1e-3f;
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

}  // namespace bench
