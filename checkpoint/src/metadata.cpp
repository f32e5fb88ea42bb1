// _METADATA.json of a step, written and read with cereal's JSON archives:
//   {"format": "nnx-checkpoint", "format_version": 1, "step": 400, "created_unix_ms": ...,
//    "created_utc": "2026-11-29T09:30:00Z", "metrics": {"val_loss": 0.12},
//    "items": [{"name": "model", "type": "state", "file": "model.nnxa", "bytes": 5321}, ...]}
#include <cereal/archives/json.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <sstream>

#include "format_version.hpp"
#include "guard.hpp"
#include "io.hpp"
#include "json_guard.hpp"
#include "metadata.hpp"

namespace nnx::checkpoint {

namespace {
// An ItemInfo as spelled on disk: the type is the word ("state", "json"), checked after reading.
struct StoredItem {
  std::string name, type, file;
  std::uint64_t bytes = 0;
  template <class Archive> void serialize(Archive& ar) {
    ar(cereal::make_nvp("name", name), cereal::make_nvp("type", type), cereal::make_nvp("file", file),
       cereal::make_nvp("bytes", bytes));
  }
};

std::vector<StoredItem> to_stored(const std::vector<ItemInfo>& items) {
  std::vector<StoredItem> out;
  for (const auto& i : items) out.push_back({i.name, item_type_name(i.type), i.file, i.bytes});
  return out;
}

ItemInfo from_stored(const StoredItem& item, const std::string& file) {
  try {
    Composite::check_name(item.name);
  } catch (const CheckpointError& e) {  // a usage error when saving; read back, it is damage (found by fuzz_step_dir)
    throw CheckpointError(ErrorCode::corrupted, "'" + file + "': " + e.what() + "; the step is damaged");
  }
  const std::optional<ItemType> type = parse_item_type(item.type);
  if (!type) throw CheckpointError(ErrorCode::corrupted, "'" + file + "': item '" + item.name + "' has unknown type '" + item.type + "'");
  const std::string expected_file = item_file_name(item.name, *type);
  if (item.file != expected_file)
    throw CheckpointError(ErrorCode::corrupted, "'" + file + "': item '" + item.name + "' names file '" + item.file +
                                                    "', expected '" + expected_file + "'");
  return {item.name, *type, item.file, item.bytes};
}
}  // namespace

std::uint64_t StepMetadata::bytes() const {
  std::uint64_t n = 0;
  for (const auto& i : items) n += i.bytes;
  return n;
}

namespace {
std::string utc_string(std::int64_t unix_ms) {
  const std::time_t t = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}
}  // namespace

std::string step_metadata_json(const StepMetadata& m) {
  if (m.metrics.size() > kMaxMetrics)
    throw CheckpointError(ErrorCode::usage, std::to_string(m.metrics.size()) + " metrics for one step; at most " +
                                                std::to_string(kMaxMetrics) + " are saved (they are for choosing steps, not a log)");
  for (const auto& [name, value] : m.metrics)
    if (!std::isfinite(value))
      throw CheckpointError(ErrorCode::usage, "metric '" + name + "' is " + std::to_string(value) + "; metrics must be finite numbers");
  std::ostringstream out;
  {
    cereal::JSONOutputArchive ar(out);
    ar(cereal::make_nvp("format", std::string(kStepFormat)), cereal::make_nvp("format_version", kStepFormatVersion),
       cereal::make_nvp("step", m.step), cereal::make_nvp("created_unix_ms", m.created_unix_ms),
       cereal::make_nvp("created_utc", utc_string(m.created_unix_ms)));
    ar.setNextName("metrics");
    ar.startNode();
    for (const auto& [name, value] : m.metrics) ar(cereal::make_nvp(name, value));
    ar.finishNode();
    ar(cereal::make_nvp("items", to_stored(m.items)));
  }
  std::string json = out.str();
  if (json.size() > kMaxStepMetadataBytes)  // a reader would refuse it: refuse to write it
    throw CheckpointError(ErrorCode::usage, "the step's metadata would be " + std::to_string(json.size()) + " bytes, more than " +
                                                std::to_string(kMaxStepMetadataBytes) + "; save fewer or shorter metrics");
  return json;
}

StepMetadata parse_step_metadata(const std::string& text, const std::string& file) {
  check_json_text(text, file);
  StepMetadata m;
  std::vector<StoredItem> items;
  try {
    std::istringstream in(text);
    cereal::JSONInputArchive ar(in);
    std::string format;
    std::uint32_t version = 0;
    ar(cereal::make_nvp("format", format), cereal::make_nvp("format_version", version));
    if (format != kStepFormat)
      throw CheckpointError(ErrorCode::format, "'" + file + "' has format '" + format + "', expected '" + kStepFormat + "'");
    check_format_version("'" + file + "'", version, kStepFormatVersion);
    m.format_version = version;
    ar(cereal::make_nvp("step", m.step), cereal::make_nvp("created_unix_ms", m.created_unix_ms));
    ar.setNextName("metrics");
    ar.startNode();
    while (const char* name = ar.getNodeName()) {
      double v = 0;
      std::string key(name);
      ar(v);
      // Writing refuses NaN and infinities, so reading one (rapidjson accepts them) is damage.
      if (!std::isfinite(v))
        throw CheckpointError(ErrorCode::corrupted, "'" + file + "' holds metric '" + key + "' = " + std::to_string(v) +
                                                        ", which nnx never writes (metrics are finite); the step is damaged");
      m.metrics[key] = v;
      if (m.metrics.size() > kMaxMetrics)
        throw CheckpointError(ErrorCode::corrupted, "'" + file + "' holds more than " + std::to_string(kMaxMetrics) +
                                                        " metrics, more than nnx writes; the step is damaged");
    }
    ar.finishNode();
    ar(cereal::make_nvp("items", items));
  } catch (const cereal::Exception& e) {
    throw CheckpointError(ErrorCode::corrupted, "'" + file + "' is not valid step metadata (" + e.what() +
                                                    "); the step is damaged; restore another step");
  }
  for (const auto& item : items) m.items.push_back(from_stored(item, file));
  return m;
}

std::string item_file_name(const std::string& name, ItemType type) {
  return name + (type == ItemType::state ? ".nnxa" : ".json");
}

std::string hex16(std::uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string seal(const std::string& body) { return body + "end " + hex16(xxh3(body)) + "\n"; }

std::optional<std::string> unseal(const std::string& text) {
  const std::size_t end = text.rfind("end ");
  if (end == std::string::npos || text.size() != end + 4 + 16 + 1 || text.back() != '\n') return std::nullopt;
  std::uint64_t sum = 0;
  const char* digits = text.data() + end + 4;
  const auto r = std::from_chars(digits, digits + 16, sum, 16);
  if (r.ec != std::errc() || r.ptr != digits + 16 || sum != xxh3(text.substr(0, end))) return std::nullopt;
  return text.substr(0, end);
}

namespace {
[[noreturn]] void bad_manifest(const std::string& path, const std::string& what) {
  throw CheckpointError(ErrorCode::corrupted, "'" + path + "' is not a valid manifest (" + what +
                                                  "); the step is damaged; restore an earlier step");
}

std::uint64_t parse_u64(const std::string& path, std::string_view text, int base) {
  std::uint64_t v = 0;
  const auto r = std::from_chars(text.data(), text.data() + text.size(), v, base);
  if (r.ec != std::errc() || r.ptr != text.data() + text.size() || text.empty()) bad_manifest(path, "a number reads '" + std::string(text) + "'");
  return v;
}

// The manifest of a _COMMIT file, its step in *step; empty for the format-1 line.
std::map<std::string, FileDigest> parse_commit(const std::string& text, const std::string& path, std::int64_t* step) {
  const std::string legacy = std::string(kStepFormat) + " 1 step ";
  if (text.compare(0, legacy.size(), legacy) == 0 && text.back() == '\n' && text.find('\n') == text.size() - 1) {
    *step = static_cast<std::int64_t>(parse_u64(path, std::string_view(text).substr(legacy.size(), text.size() - legacy.size() - 1), 10));
    return {};
  }
  const std::optional<std::string> body = unseal(text);
  if (!body) bad_manifest(path, "no end line holding its checksum, or the checksum does not match");
  std::map<std::string, FileDigest> files;
  std::istringstream lines(*body);
  std::string line;
  std::getline(lines, line);
  const std::string head = std::string(kStepFormat) + " " + std::to_string(kStepFormatVersion) + " step ";
  if (line.compare(0, head.size(), head) != 0) bad_manifest(path, "first line '" + line.substr(0, 60) + "'");
  *step = static_cast<std::int64_t>(parse_u64(path, std::string_view(line).substr(head.size()), 10));
  while (std::getline(lines, line)) {
    // "file <xxh3 hex16> <size> <name>"
    if (line.size() < 5 + 16 + 1 + 1 + 1 || line.compare(0, 5, "file ") != 0 || line[21] != ' ') bad_manifest(path, "a line reads '" + line.substr(0, 60) + "'");
    const std::size_t space = line.find(' ', 22);
    if (space == std::string::npos || space + 1 >= line.size()) bad_manifest(path, "a line reads '" + line.substr(0, 60) + "'");
    FileDigest d{parse_u64(path, std::string_view(line).substr(22, space - 22), 10), parse_u64(path, std::string_view(line).substr(5, 16), 16)};
    files.emplace(line.substr(space + 1), d);
  }
  return files;
}
}  // namespace

std::string commit_manifest(std::int64_t step, const std::map<std::string, FileDigest>& files) {
  std::string text = std::string(kStepFormat) + " " + std::to_string(kStepFormatVersion) + " step " + std::to_string(step) + "\n";
  for (const auto& [name, d] : files) text += "file " + hex16(d.xxh3) + " " + std::to_string(d.size) + " " + name + "\n";
  return seal(text);
}

void check_file_digest(const std::map<std::string, FileDigest>& files, const std::string& name, const std::string& bytes,
                       const std::string& path) {
  if (files.empty()) return;
  const auto it = files.find(name);
  if (it == files.end())
    throw CheckpointError(ErrorCode::corrupted, "'" + path + "' is not in the step's manifest (_COMMIT); the step is damaged");
  if (it->second.size != bytes.size() || it->second.xxh3 != xxh3(bytes))
    throw CheckpointError(ErrorCode::corrupted, "'" + path + "' does not match the step's manifest (" + std::to_string(bytes.size()) +
                                                    " bytes, expected " + std::to_string(it->second.size) +
                                                    ", or another checksum): the file is damaged; restore an earlier step");
}

namespace {
StepMetadata read_checked_step_metadata(const std::string& step_directory) {
  const std::string commit = step_directory + "/" + kCommitFile, file = step_directory + "/" + kMetadataFile;
  std::int64_t commit_step = 0;
  std::map<std::string, FileDigest> files = parse_commit(io::read_small_file(commit, 1 << 20), commit, &commit_step);
  const std::string text = io::read_small_file(file, kMaxStepMetadataBytes);
  check_file_digest(files, kMetadataFile, text, file);
  StepMetadata m = parse_step_metadata(text, file);
  if (m.format_version >= 2 && files.empty())
    throw CheckpointError(ErrorCode::corrupted, "'" + commit + "' holds no manifest, but the step is of format " +
                                                    std::to_string(m.format_version) + "; the step is damaged");
  if (commit_step != m.step)
    throw CheckpointError(ErrorCode::corrupted, "'" + commit + "' names step " + std::to_string(commit_step) + ", '" + file +
                                                    "' step " + std::to_string(m.step) + "; the step is damaged");
  if (!files.empty())
    for (const auto& item : m.items)
      if (!files.count(item.file))
        throw CheckpointError(ErrorCode::corrupted, "'" + commit + "' does not list item file '" + item.file + "'; the step is damaged");
  m.files = std::move(files);
  return m;
}
}  // namespace

StepMetadata read_step_metadata(const std::string& step_directory) {
  return guard_read("the metadata of step directory '" + step_directory + "'",
                    [&] { return read_checked_step_metadata(step_directory); });
}

}  // namespace nnx::checkpoint
