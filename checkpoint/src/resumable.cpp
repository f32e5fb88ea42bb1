#include "nnx/checkpoint/resumable.hpp"

#include <iostream>

#include "nnx/graph.hpp"

namespace nnx::checkpoint {

Resumable::Resumable(CheckpointManager& manager, ResumableOptions options) : manager_(manager) {
  if (options.metrics_log && !manager_.options().read_only)
    with_log([&](std::unique_ptr<MetricsLog>& log) { log = std::make_unique<MetricsLog>(manager_.directory(), manager_.options().clock); });
}

Resumable::~Resumable() = default;

template <class F> void Resumable::with_log(F&& write) {
  try {
    write(log_);
  } catch (const std::exception& e) {
    std::cerr << "nnx::checkpoint: the metrics log of '" << manager_.directory() << "' is switched off: " << e.what() << "\n";
    log_.reset();
  }
}

void Resumable::check_new(const std::string& name) const {
  Composite::check_name(name);
  for (const auto& t : tracked_)
    if (t.name == name) throw CheckpointError(ErrorCode::usage, "Resumable: item '" + name + "' is already tracked; give each item its own name");
}

Resumable& Resumable::add(const std::string& name, Module& module) {
  check_new(name);
  tracked_.push_back({name, &module, {}, {}});
  return *this;
}

Resumable& Resumable::add_json_item(const std::string& name, std::function<JsonItem()> to_json,
                                    std::function<void(const JsonItem&)> from_json) {
  check_new(name);
  tracked_.push_back({name, nullptr, std::move(to_json), std::move(from_json)});
  return *this;
}

Composite Resumable::items() const {
  if (tracked_.empty()) throw CheckpointError(ErrorCode::usage, "Resumable: nothing tracked; add the model, optimizer, ... first");
  Composite items;
  for (const auto& t : tracked_) {
    if (t.module) items.add(t.name, nnx::state(*t.module));
    else items.add(t.name, t.to_json());
  }
  return items;
}

std::optional<std::int64_t> Resumable::resume_or_start() {
  manager_.reload();
  if (!manager_.latest_step()) {
    if (log_) with_log([](std::unique_ptr<MetricsLog>& log) { log->restart_at(0, "start"); });
    return std::nullopt;
  }
  // The targets are the tracked objects' own states: structure, kinds, shapes and dtypes.
  const RestoredStep restored = manager_.restore_latest(items(), {.fall_back_to_intact = true});
  // Everything is read and checked before any object is changed: a failure leaves them as they were.
  for (const auto& t : tracked_) {
    if (t.module) nnx::update(*t.module, restored.items.state(t.name));
    else t.from_json(restored.items.json(t.name));
  }
  if (!manager_.options().read_only)
    for (std::int64_t later : manager_.all_steps())
      if (later > restored.step)
        std::cerr << "nnx::checkpoint: set aside damaged step " << later << " as '" << manager_.set_aside(later) << "'\n";
  resumed_from_ = restored.step;
  if (log_) with_log([&](std::unique_ptr<MetricsLog>& log) { log->restart_at(restored.step, "resume"); });
  return restored.step;
}

SaveResult Resumable::save(std::int64_t step, const Metrics& metrics, bool force) {
  if (!force && !manager_.should_save(step)) return {SaveResult::Status::skipped};
  const SaveResult result = manager_.save(step, items(), metrics, force);
  if (result && log_)
    with_log([&](std::unique_ptr<MetricsLog>& log) {
      log->append(step, metrics, "save");
      log->sync();  // the log is durable at least up to the last save
    });
  return result;
}

void Resumable::log(std::int64_t step, const Metrics& metrics) {
  if (log_) with_log([&](std::unique_ptr<MetricsLog>& log) { log->append(step, metrics); });
}

}  // namespace nnx::checkpoint
