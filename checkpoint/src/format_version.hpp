// Internal: the one check of a format version read from disk (step metadata, JSON items, array
// files), so that every reader refuses the same way with the same advice.
#pragma once

#include <cstdint>
#include <string>

#include "nnx/checkpoint/error.hpp"

namespace nnx::checkpoint {

// Throws CheckpointError(format) unless 1 <= version <= newest (the newest this build reads).
// `what` names the file or item, as it should appear at the start of the message.
inline void check_format_version(const std::string& what, std::uint32_t version, std::uint32_t newest) {
  if (version == 0)
    throw CheckpointError(ErrorCode::format, what + " has format version 0, which no nnx writes; it is damaged");
  if (version > newest)
    throw CheckpointError(ErrorCode::format, what + " was written by a newer nnx: format version " + std::to_string(version) +
                                                 ", this build reads up to " + std::to_string(newest) + "; upgrade nnx");
}

}  // namespace nnx::checkpoint
