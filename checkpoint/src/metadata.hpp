// Internal: the files of a step directory besides the items, and their JSON encoding.
#pragma once

#include <optional>
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
inline constexpr std::uint64_t kMaxMetadataBytes = 64 << 20;      // a JSON item file
inline constexpr std::uint64_t kMaxStepMetadataBytes = 1 << 20;   // _METADATA.json: parsing costs a multiple of it
inline constexpr std::size_t kMaxMetrics = 10000;                  // per step, written and read

std::string step_metadata_json(const StepMetadata& metadata);
StepMetadata parse_step_metadata(const std::string& text, const std::string& file);
std::string item_file_name(const std::string& name, ItemType type);

// _COMMIT, format 2 (docs/checkpoint-format.md): a manifest of the step's other files, its own
// XXH3-64 on the last line.
std::string commit_manifest(std::int64_t step, const std::map<std::string, FileDigest>& files);
// Throws CheckpointError(corrupted) naming `path` unless `bytes` match the manifest entry `name`
// (nothing to check when `files` is empty: a format-1 step).
void check_file_digest(const std::map<std::string, FileDigest>& files, const std::string& name, const std::string& bytes,
                       const std::string& path);
std::uint64_t xxh3(const std::string& bytes);
std::string hex16(std::uint64_t v);  // 16 lowercase hex digits
// A text file sealed by its last line, "end <XXH3-64 of everything before it as hex16>\n" (_COMMIT,
// _MANAGER): seal appends the line; unseal returns the text before it, or nothing when the line is
// missing or the checksum does not match.
std::string seal(const std::string& body);
std::optional<std::string> unseal(const std::string& text);
// write_array_file (format.hpp), returning the file's manifest entry: its size and index checksum.
FileDigest write_array_file_digest(const std::string& path, const State& state);

}  // namespace nnx::checkpoint
