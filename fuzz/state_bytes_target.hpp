// The State the state_bytes fuzzer restores into (and its seeds are written from): every dtype,
// a scalar, an empty array and nested paths, so the signature check and the copy both matter.
#pragma once

#include <nnx/nnx.hpp>

namespace fuzz {
inline nnx::State state_bytes_target() {
  nnx::State s;
  s.set(nnx::Path{"layers", 0, "kernel"}, nnx::Param(nnx::Array::full({3, 4}, nnx::DType::float32, 0.5)));
  s.set(nnx::Path{"layers", 0, "bias"}, nnx::Param(nnx::Array::zeros({4}, nnx::DType::float32)));
  s.set(nnx::Path{"f64"}, nnx::BatchStat(nnx::Array::ones({2}, nnx::DType::float64)));
  s.set(nnx::Path{"count"}, nnx::RngCount(nnx::Array::scalar<std::uint32_t>(7)));
  s.set(nnx::Path{"step"}, nnx::OptState(nnx::Array::scalar<std::int64_t>(3)));
  s.set(nnx::Path{"empty"}, nnx::Variable(nnx::Kind::from_name("Custom"), nnx::Array::zeros({0}, nnx::DType::int32)));
  return s;
}
}  // namespace fuzz
