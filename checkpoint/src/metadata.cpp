// _METADATA.json of a step, written and read with cereal's JSON archives:
//   {"format": "nnx-checkpoint", "format_version": 1, "step": 400, "created_unix_ms": ...,
//    "created_utc": "2026-11-29T09:30:00Z", "metrics": {"val_loss": 0.12},
//    "items": [{"name": "model", "type": "state", "file": "model.nnxa", "bytes": 5321}, ...]}
#include <cereal/archives/json.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>
#include <cmath>
#include <ctime>
#include <sstream>

#include "format_version.hpp"
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
  Composite::check_name(item.name);
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
  return out.str();
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

StepMetadata read_step_metadata(const std::string& step_directory) {
  const std::string file = step_directory + "/" + kMetadataFile;
  return parse_step_metadata(io::read_small_file(file, kMaxMetadataBytes), file);
}

}  // namespace nnx::checkpoint
