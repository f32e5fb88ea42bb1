// Internal: the files of a step directory besides the items, and their JSON encoding.
#pragma once

#include <string>

#include "nnx/checkpoint/manager.hpp"

namespace nnx::checkpoint {

inline constexpr const char* kStepFormat = "nnx-checkpoint";
inline constexpr const char* kMetadataFile = "_METADATA.json";
inline constexpr const char* kCommitFile = "_COMMIT";
inline constexpr const char* kTmpMarker = ".nnx-tmp-";
inline constexpr const char* kDeletingMarker = ".nnx-deleting-";
inline constexpr const char* kDamagedMarker = ".nnx-damaged-";  // set_aside: kept, never listed, never removed
inline constexpr const char* kLockFile = ".nnx-writer.lock";
inline constexpr std::uint64_t kMaxMetadataBytes = 64 << 20;

std::string step_metadata_json(const StepMetadata& metadata);
StepMetadata parse_step_metadata(const std::string& text, const std::string& file);
std::string item_file_name(const std::string& name, ItemType type);

}  // namespace nnx::checkpoint
