// Restoring: into a target (strict, every difference named), or without one (plain maps).
#include <boost/filesystem.hpp>

#include "io.hpp"
#include "metadata.hpp"
#include "nnx/checkpoint/format.hpp"
#include "nnx/checkpoint/manager.hpp"

namespace nnx::checkpoint {

namespace {
const ItemInfo& find_item(const StepMetadata& m, const std::string& item, const std::string& step_dir) {
  for (const auto& i : m.items)
    if (i.name == item) return i;
  std::string names;
  for (const auto& i : m.items) names += (names.empty() ? "" : ", ") + i.name + " (" + i.type + ")";
  throw CheckpointError(ErrorCode::not_found, "step " + std::to_string(m.step) + " in '" + step_dir + "' has no item '" + item +
                                                  "' (items: " + (names.empty() ? "none" : names) + ")");
}

const ItemInfo& find_item_of_type(const StepMetadata& m, const std::string& item, const std::string& type,
                                  const std::string& step_dir) {
  const ItemInfo& info = find_item(m, item, step_dir);
  if (info.type != type)
    throw CheckpointError(ErrorCode::usage, "item '" + item + "' of step " + std::to_string(m.step) + " is a " + info.type +
                                                " item, not a " + type + " item");
  return info;
}

// The stored structure as an abstract State (kinds, metadata, shapes, dtypes; no data read).
State stored_structure(const ArrayFileReader& reader) {
  State s;
  for (const auto& e : reader.index().entries)
    s.set(e.path, Variable(Kind::from_name(e.kind), Array::abstract(e.shape, e.dtype), e.metadata));
  return s;
}

State restore_into(const ArrayFileReader& reader, const State& target, const RestoreOptions& options,
                   const std::string& context) {
  const State stored = stored_structure(reader);
  CompareOptions compare;
  compare.unexpected = !options.partial;
  compare.dtypes = !options.cast_dtypes;
  std::vector<Difference> diffs = compare_structure(target, stored, compare);
  if (!diffs.empty())
    throw StructureError(context + ": the checkpoint does not fit the target", std::move(diffs),
                         "build the target from the model that was saved (eval_shape + split of the same "
                         "configuration); to restore only some paths pass partial = true; to convert dtypes pass "
                         "cast_dtypes = true; or restore without a target (restore_pure_dict), edit the dict and "
                         "use State::replace_by_pure_dict");
  std::map<Path, const ArrayEntry*> entries;
  for (const auto& e : reader.index().entries) entries.emplace(e.path, &e);
  State out;
  for (const auto& [path, want] : target) {
    const ArrayEntry& e = *entries.at(path);
    Array value = want.value;
    // Straight into the target's buffer when it has one of the stored dtype and shape; else a new one.
    if (value.is_abstract() || value.dtype() != e.dtype || !(value.shape() == e.shape)) value = Array::empty(e.shape, e.dtype);
    reader.read_into(e, value);
    if (value.dtype() != want.value.dtype()) value = value.astype(want.value.dtype());
    out.set(path, Variable(want.kind(), std::move(value), e.metadata));
  }
  return out;
}
}  // namespace

Composite CheckpointManager::restore(std::optional<std::int64_t> step, const Composite& targets,
                                     const RestoreOptions& options) const {
  const std::int64_t s = resolve(step);
  const std::string dir = step_directory(s);
  const StepMetadata m = read_step_metadata(dir);
  Composite out;
  for (const auto& name : targets.names()) {
    if (targets.is_state(name)) {
      const ItemInfo& info = find_item_of_type(m, name, "state", dir);
      ArrayFileReader reader(dir + "/" + info.file);
      out.add(name, restore_into(reader, targets.state(name), options,
                                 "restoring item '" + name + "' of step " + std::to_string(s) + " from '" + directory_ + "'"));
    } else {
      const ItemInfo& info = find_item_of_type(m, name, "json", dir);
      out.add(name, JsonItem::from_text(io::read_small_file(dir + "/" + info.file, kMaxMetadataBytes)));
    }
  }
  return out;
}

State CheckpointManager::restore(std::optional<std::int64_t> step, const State& target, const RestoreOptions& options) const {
  return restore(step, Composite().add(kDefaultItem, target), options).state(kDefaultItem);
}

State CheckpointManager::restore_state(std::optional<std::int64_t> step, const std::string& item) const {
  const std::int64_t s = resolve(step);
  const std::string dir = step_directory(s);
  const StepMetadata m = read_step_metadata(dir);  // named: `info` refers into it
  const ItemInfo& info = find_item_of_type(m, item, "state", dir);
  return ArrayFileReader(dir + "/" + info.file).read_all();
}

PureDict CheckpointManager::restore_pure_dict(std::optional<std::int64_t> step, const std::string& item) const {
  return restore_state(step, item).to_pure_dict();
}

JsonItem CheckpointManager::restore_json(std::optional<std::int64_t> step, const std::string& item) const {
  const std::int64_t s = resolve(step);
  const std::string dir = step_directory(s);
  const StepMetadata m = read_step_metadata(dir);
  const ItemInfo& info = find_item_of_type(m, item, "json", dir);
  return JsonItem::from_text(io::read_small_file(dir + "/" + info.file, kMaxMetadataBytes));
}

}  // namespace nnx::checkpoint
