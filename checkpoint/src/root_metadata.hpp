// Internal: _ROOT_METADATA, the directory's own record (docs/checkpoint-format.md): which metric
// ranks the steps, so a reader that was not told best_metric still knows the best step.
#pragma once

#include <optional>
#include <string>

#include "nnx/checkpoint/manager.hpp"

namespace nnx::checkpoint {

inline constexpr const char* kRootMetadataFile = "_ROOT_METADATA";

struct BestPolicy {
  std::string metric;
  BestMode mode = BestMode::max;
  bool operator==(const BestPolicy&) const = default;
};

const char* best_mode_name(BestMode mode);  // "max" or "min"
// Throws CheckpointError(usage) unless `metric` can be recorded: 1 to 256 bytes, no control characters.
void check_best_metric(const std::string& metric);
// The policy recorded in `directory`, or nothing when there is no _ROOT_METADATA; a damaged file
// is a CheckpointError (corrupted) naming it.
std::optional<BestPolicy> read_root_metadata(const std::string& directory);
// Records `policy` in `directory` (written beside, fsynced, renamed into place) unless it is already there.
void write_root_metadata(const std::string& directory, const BestPolicy& policy);

}  // namespace nnx::checkpoint
