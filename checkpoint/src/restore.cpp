// Restoring: into a target (strict, every difference named), or without one (plain maps); verifying.
#include <algorithm>
#include <iostream>

#include "io.hpp"
#include "metadata.hpp"
#include "nnx/checkpoint/format.hpp"
#include "nnx/checkpoint/manager.hpp"

namespace nnx::checkpoint {

// What every restore needs before reading an item. Everything is held by value: the ItemInfo is a
// copy, never a reference into `metadata` (a reference outlived its metadata once).
struct CheckpointManager::OpenedItem {
  std::int64_t step;
  std::string directory;  // the step's directory
  StepMetadata metadata;
  ItemInfo info;
  std::string file() const { return directory + "/" + info.file; }
  // The item's array file, opened and checked against the manifest (size and index checksum).
  ArrayFileReader array_file() const {
    ArrayFileReader reader(file());
    if (!metadata.files.empty()) {
      const FileDigest& d = metadata.files.at(info.file);  // read_step_metadata checked it is listed
      if (reader.file_size() != d.size || reader.index().checksum != d.xxh3)
        throw CheckpointError(ErrorCode::corrupted, "'" + file() + "' does not match the step's manifest (_COMMIT): "
                                                    "it was replaced or damaged; restore an earlier step");
    }
    return reader;
  }
  // The item's JSON text, checked against the manifest.
  std::string json_text() const {
    std::string text = io::read_small_file(file(), kMaxMetadataBytes);
    check_file_digest(metadata.files, info.file, text, file());
    return text;
  }
};

// Resolves `step` (the latest when unset), reads its metadata and finds `item`, which must be of
// `type`; each failure is a CheckpointError naming the step, the item and what there is instead.
CheckpointManager::OpenedItem CheckpointManager::open_item(std::int64_t s, const std::string& item, ItemType type) const {
  OpenedItem opened{s, step_directory(s), {}, {}};
  opened.metadata = read_step_metadata(opened.directory);
  const auto& items = opened.metadata.items;
  const auto found = std::find_if(items.begin(), items.end(), [&](const ItemInfo& i) { return i.name == item; });
  if (found == items.end()) {
    std::string names;
    for (const auto& i : items) names += (names.empty() ? "" : ", ") + i.name + " (" + item_type_name(i.type) + ")";
    throw CheckpointError(ErrorCode::not_found, "step " + std::to_string(s) + " in '" + opened.directory + "' has no item '" +
                                                    item + "' (items: " + (names.empty() ? "none" : names) + ")");
  }
  if (found->type != type)
    throw CheckpointError(ErrorCode::usage, "item '" + item + "' of step " + std::to_string(s) + " is a " +
                                                item_type_name(found->type) + " item, not a " + item_type_name(type) + " item");
  opened.info = *found;
  return opened;
}

namespace {
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
  if (step) return restore_step(resolve(step), targets, options);
  std::vector<std::int64_t> steps = all_steps();  // newest last; tried newest first
  if (steps.empty()) resolve(step);                // throws "nothing to restore"
  std::string skipped;
  int relists = 0;
  while (!steps.empty()) {
    const std::int64_t s = steps.back();
    steps.pop_back();
    try {
      return restore_step(s, targets, options);
    } catch (const CheckpointError& e) {
      if (!is_committed(s) && relists++ < 8) {  // deleted by a writer since it was listed: not damage
        steps.clear();
        for (const auto& r : list_steps()) steps.push_back(r.step);
        continue;
      }
      if (e.code() == ErrorCode::usage || !options.fall_back_to_intact) throw;  // the call is wrong, or no fallback
      std::cerr << "nnx::checkpoint: step " << s << " of '" << directory_ << "' is damaged, skipped: " << e.what() << "\n";
      skipped += "\n  step " + std::to_string(s) + ": " + e.what();
    }
  }
  if (skipped.empty()) resolve(std::nullopt);  // everything was deleted meanwhile: "nothing to restore"
  throw CheckpointError(ErrorCode::corrupted, "no step of '" + directory_ + "' can be restored:" + skipped);
}

Composite CheckpointManager::restore_step(std::int64_t s, const Composite& targets, const RestoreOptions& options) const {
  Composite out;
  for (const auto& name : targets.names()) {
    const ItemType type = targets.type(name);
    const OpenedItem opened = open_item(s, name, type);
    if (type == ItemType::state) {
      out.add(name, restore_into(opened.array_file(), targets.state(name), options,
                                 "restoring item '" + name + "' of step " + std::to_string(s) + " from '" + directory_ + "'"));
    } else {
      JsonItem json = JsonItem::from_text(opened.json_text());
      json.validate();  // damage is found here, where falling back is still possible
      out.add(name, std::move(json));
    }
  }
  return out;
}

State CheckpointManager::restore(std::optional<std::int64_t> step, const State& target, const RestoreOptions& options) const {
  return restore(step, Composite().add(kDefaultItem, target), options).state(kDefaultItem);
}

State CheckpointManager::restore_state(std::optional<std::int64_t> step, const std::string& item) const {
  return open_item(resolve(step), item, ItemType::state).array_file().read_all();
}

PureDict CheckpointManager::restore_pure_dict(std::optional<std::int64_t> step, const std::string& item) const {
  return PureDict(restore_state(step, item));  // the restored State itself, viewed as maps: no conversion
}

JsonItem CheckpointManager::restore_json(std::optional<std::int64_t> step, const std::string& item) const {
  return JsonItem::from_text(open_item(resolve(step), item, ItemType::json).json_text());
}

StepCheck CheckpointManager::verify(std::int64_t step) const {
  StepCheck check{step, 0, {}};
  try {
    for (const auto& item : metadata(step).items) {
      if (item.type == ItemType::json) {
        restore_json(step, item.name).validate();
        continue;
      }
      const ArrayFileReader reader = open_item(step, item.name, ItemType::state).array_file();  // `step` listed: resolved
      check.arrays += reader.index().entries.size();
      for (auto& p : reader.verify()) check.problems.push_back(std::move(p));
    }
  } catch (const std::exception& e) {
    check.problems.push_back(e.what());
  }
  if (!check.problems.empty() && !is_committed(step)) {  // deleted meanwhile: not damage
    check.problems.clear();
    check.deleted = true;
  }
  return check;
}

std::optional<std::int64_t> CheckpointManager::latest_intact_step() const {
  const std::vector<std::int64_t> steps = all_steps();
  for (auto s = steps.rbegin(); s != steps.rend(); ++s)
    if (verify(*s).ok()) return *s;  // a step deleted meanwhile is not ok: the next older one is tried
  return std::nullopt;
}

}  // namespace nnx::checkpoint
