// Restoring: into a target (strict, every difference named), or without one (plain maps); verifying.
#include <algorithm>
#include <iostream>

#include "guard.hpp"
#include "io.hpp"
#include "remedy.hpp"
#include "metadata.hpp"
#include "nnx/checkpoint/format.hpp"
#include "nnx/checkpoint/manager.hpp"

namespace nnx::checkpoint {

// What every restore needs before reading items: the step's directory and its metadata (the
// manifest included), read once per restore. Items are copied out by value, never referred to.
struct CheckpointManager::OpenedStep {
  std::int64_t step;
  std::string directory;
  StepMetadata metadata;

  std::string path(const ItemInfo& info) const { return directory + "/" + info.file; }

  // The item `name`, which must be of `type`; else a CheckpointError naming what there is instead.
  ItemInfo item(const std::string& name, ItemType type) const {
    const auto& items = metadata.items;
    const auto found = std::find_if(items.begin(), items.end(), [&](const ItemInfo& i) { return i.name == name; });
    if (found == items.end()) {
      std::string names;
      for (const auto& i : items) names += (names.empty() ? "" : ", ") + i.name + " (" + item_type_name(i.type) + ")";
      std::string fix;
      for (const auto& i : items)
        if (i.type == type) fix = "; restore an item by name, e.g. " + std::string(type == ItemType::state ? "restore(step, \"" + i.name + "\", target)" : "restore_json(step, \"" + i.name + "\")");
      throw CheckpointError(ErrorCode::not_found, "step " + std::to_string(step) + " in '" + directory + "' has no item '" +
                                                      name + "' (items: " + (names.empty() ? "none" : names) + ")" + fix);
    }
    if (found->type != type)
      throw CheckpointError(ErrorCode::usage, "item '" + name + "' of step " + std::to_string(step) + " is a " +
                                                  item_type_name(found->type) + " item, not a " + item_type_name(type) + " item");
    return *found;
  }

  // An item's array file, opened and checked against the manifest (size and index checksum).
  ArrayFileReader array_file(const ItemInfo& info) const {
    ArrayFileReader reader(path(info));
    if (!metadata.files.empty()) {
      const FileDigest& d = metadata.files.at(info.file);  // read_step_metadata checked it is listed
      if (reader.file_size() != d.size || reader.index().checksum != d.xxh3)
        throw CheckpointError(ErrorCode::corrupted, "'" + path(info) + "' does not match the step's manifest (_COMMIT): "
                                                    "it was replaced or damaged; restore an earlier step");
    }
    return reader;
  }

  // An item's JSON, checked against the manifest and validated (format, version, numbers, nesting);
  // a refusal names the file (JsonItem's own messages cannot: it holds text, not a path).
  JsonItem json(const ItemInfo& info) const {
    return guard_read(quoted(path(info)), [&] {
      std::string text = io::read_small_file(path(info), kMaxMetadataBytes);
      check_file_digest(metadata.files, info.file, text, path(info));
      JsonItem item = JsonItem::from_text(std::move(text));
      try {
        item.validate();
      } catch (const CheckpointError& e) {
        throw CheckpointError(e.code(), quoted(path(info)) + ": " + e.what());
      }
      return item;
    });
  }
};

CheckpointManager::OpenedStep CheckpointManager::open_step(std::int64_t s) const {
  std::string directory = step_directory(s);
  StepMetadata metadata = read_step_metadata(directory);
  return {s, std::move(directory), std::move(metadata)};
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
    throw StructureError(context + ": the checkpoint does not fit the target", diffs, restore_remedy(diffs));
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
  return restore_latest(targets, options).items;
}

RestoredStep CheckpointManager::restore_latest(const Composite& targets, const RestoreOptions& options) const {
  std::vector<std::int64_t> steps = all_steps();  // newest last; tried newest first
  if (steps.empty()) resolve(std::nullopt);        // throws "nothing to restore"
  std::string skipped;
  int relists = 0;
  while (!steps.empty()) {
    const std::int64_t s = steps.back();
    steps.pop_back();
    try {
      return {s, restore_step(s, targets, options)};
    } catch (const CheckpointError& e) {
      // Deleted by a writer since it was listed: not damage. Bounded, so a writer that saves faster
      // than this reader reads cannot keep it here forever (then the last failure is reported).
      if (!is_committed(s) && relists++ < 64) {
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
  const OpenedStep opened = open_step(s);
  Composite out;
  for (const auto& name : targets.names()) {
    const ItemType type = targets.type(name);
    const ItemInfo info = opened.item(name, type);
    if (type == ItemType::state)
      out.add(name, guard_read(quoted(opened.path(info)), [&] {
                return restore_into(opened.array_file(info), targets.state(name), options,
                                    "restoring item '" + name + "' of step " + std::to_string(s) + " from '" + directory_ + "'");
              }));
    else
      out.add(name, opened.json(info));  // validated here, where falling back is still possible
  }
  return out;
}

State CheckpointManager::restore(std::optional<std::int64_t> step, const State& target, const RestoreOptions& options) const {
  return restore(step, kDefaultItem, target, options);
}

State CheckpointManager::restore(std::optional<std::int64_t> step, const std::string& item, const State& target,
                                 const RestoreOptions& options) const {
  return restore(step, Composite().add(item, target), options).state(item);
}

State CheckpointManager::restore_state(std::optional<std::int64_t> step, const std::string& item) const {
  return array_file(step, item).read_all();
}

ArrayFileReader CheckpointManager::array_file(std::optional<std::int64_t> step, const std::string& item) const {
  const OpenedStep opened = open_step(resolve(step));
  return opened.array_file(opened.item(item, ItemType::state));
}

PureDict CheckpointManager::restore_pure_dict(std::optional<std::int64_t> step, const std::string& item) const {
  return PureDict(restore_state(step, item));  // the restored State itself, viewed as maps: no conversion
}

JsonItem CheckpointManager::restore_json(std::optional<std::int64_t> step, const std::string& item) const {
  const OpenedStep opened = open_step(resolve(step));
  return opened.json(opened.item(item, ItemType::json));
}

StepCheck CheckpointManager::verify(std::int64_t step) const {
  StepCheck check{step, 0, {}};
  try {
    const OpenedStep opened = open_step(resolve(step));
    for (const auto& item : opened.metadata.items) {
      if (item.type == ItemType::json) {
        (void)opened.json(item);
        continue;
      }
      const ArrayFileReader reader = opened.array_file(item);
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
