// nnx/checkpoint/resumable.hpp — everything a training run must save to resume exactly, saved and
// restored in one call each.
//
//   ckpt::CheckpointManager manager(dir, {.max_to_keep = 3, .best_metric = "val_accuracy"});
//   ckpt::Resumable run(manager);
//   run.add("model", model).add("optimizer", optimizer).add("data", loader);  // Modules, by reference
//   run.add_json("progress", progress);          // any cereal-serializable value (<nnx/checkpoint/json.hpp>)
//   const std::int64_t start = run.resume_or_start().value_or(0);   // the step restored, or nothing
//   for (std::int64_t step = start + 1; step <= steps; ++step) {
//     ... train ...
//     if (step % 50 == 0) run.log(step, {{"train_loss", loss}});   // <dir>/metrics.jsonl
//     if (manager.should_save(step)) run.save(step, {{"val_accuracy", acc}});
//   }
//
// What is added is tracked by reference: save() takes nnx::state of each Module (and the JSON of
// each value) at the moment it is called; resume_or_start() restores into them in place with
// nnx::update (strict: a model of another configuration is a StructureError naming every path).
// The target of the restore is the objects themselves — freshly built with the run's
// configuration — so nothing is written twice. Rngs, Optimizer and DataLoader are Modules: add them
// to resume their streams, moments and position.
//
// With a writable manager, a metrics log is kept beside the checkpoints (metrics_log.hpp): log()
// appends training metrics, save() the metrics it saves, resume_or_start() cuts the entries after
// the restored step (the resumed run redoes them) and marks the resume. The log never stops
// training: if it cannot be written, stderr says why once and it is switched off.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nnx/checkpoint/manager.hpp"
#include "nnx/checkpoint/metrics_log.hpp"
#include "nnx/module.hpp"

namespace nnx::checkpoint {

struct ResumableOptions {
  bool metrics_log = true;  // keep <dir>/metrics.jsonl (writable managers only)
};

class Resumable {
 public:
  explicit Resumable(CheckpointManager& manager, ResumableOptions options = {});
  ~Resumable();

  // Tracks `module` (by reference: it must outlive this object) as the State item `name`.
  Resumable& add(const std::string& name, Module& module);
  // Tracks `value` as the JSON item `name` (needs <nnx/checkpoint/json.hpp> where this is called).
  template <class T> Resumable& add_json(const std::string& name, T& value) {
    return add_json_item(name, [&value] { return JsonItem::from(value); }, [&value](const JsonItem& j) { value = j.get<T>(); });
  }

  // When the directory holds a step: restores every tracked item from the latest step into the
  // tracked objects and returns that step. A damaged latest step is skipped for the newest intact
  // one (stderr names it and why) and — with a writable manager — set aside (renamed to
  // "<step>.nnx-damaged-*", kept), so training can save those step numbers again. With no step:
  // returns nothing and changes nothing — start from scratch.
  std::optional<std::int64_t> resume_or_start();
  // Saves every tracked item as `step` (manager.save's rules: should_save, force, async), and logs
  // `metrics` as a "save" entry.
  SaveResult save(std::int64_t step, const Metrics& metrics = {}, bool force = false);
  // Appends a "train" entry to the metrics log (nothing without one).
  void log(std::int64_t step, const Metrics& metrics);
  // What save() writes now.
  Composite items() const;
  // The step resume_or_start() restored, if it did.
  std::optional<std::int64_t> resumed_from() const { return resumed_from_; }

 private:
  struct Tracked {
    std::string name;
    Module* module = nullptr;                              // a State item, or
    std::function<JsonItem()> to_json;                     // a JSON item
    std::function<void(const JsonItem&)> from_json;
  };
  Resumable& add_json_item(const std::string& name, std::function<JsonItem()> to_json,
                           std::function<void(const JsonItem&)> from_json);
  void check_new(const std::string& name) const;
  template <class F> void with_log(F&& write);  // runs `write(log)`; a failure switches the log off


  CheckpointManager& manager_;
  std::vector<Tracked> tracked_;
  std::optional<std::int64_t> resumed_from_;
  std::unique_ptr<MetricsLog> log_;
};

}  // namespace nnx::checkpoint
