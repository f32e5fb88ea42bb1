// nnx/checkpoint/error.hpp — what can go wrong with a checkpoint, as one exception type.
//
//   try { manager.restore(step, target); }
//   catch (const nnx::checkpoint::CheckpointError& e) {
//     if (e.code() == nnx::checkpoint::ErrorCode::corrupted) ...;   // e.what() names file, path, remedy
//   }
//
// Mismatches between a checkpoint and a restore target are nnx::StructureError instead (they list
// every differing path).
#pragma once

#include <string>

#include "nnx/error.hpp"

namespace nnx::checkpoint {

enum class ErrorCode {
  not_found,       // no checkpoint, unknown step, missing item or file
  corrupted,       // a checksum does not match, or a field holds an impossible value
  truncated,       // a file is shorter than its own header says
  format,          // not an nnx checkpoint file (wrong magic), or written by a newer format version
  read_only,       // a read-only manager was asked to write
  locked,          // another writer holds the directory
  io,              // the operating system refused (disk full, permission denied, ...)
  usage,           // the call itself is wrong (saving a step twice, an abstract State, ...)
};

class CheckpointError : public Error {
 public:
  CheckpointError(ErrorCode code, const std::string& message) : Error(message), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

}  // namespace nnx::checkpoint
