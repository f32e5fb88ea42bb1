// nnx/checkpoint/manager.hpp — an Orbax-style CheckpointManager.
//
//   namespace ckpt = nnx::checkpoint;
//   ckpt::CheckpointManager manager("/tmp/run", {.max_to_keep = 3, .enable_async_checkpointing = true});
//   manager.save(step, nnx::state(model));                           // one State: item "default"
//   manager.save(step, ckpt::Composite().add("model", nnx::state(model)).add("opt", nnx::state(opt)),
//                {{"val_loss", 0.12}});
//
//   // Resume: the target is the structure of a fresh model, without its memory.
//   auto abstract = nnx::eval_shape([] { nnx::Rngs r(0); return MyModel(r); });
//   auto [graphdef, target] = nnx::split(abstract);
//   nnx::State restored = manager.restore(manager.latest_step(), target);   // strict: names every difference
//   MyModel model = nnx::merge(graphdef, restored);
//
// Promises:
//  * A step is written into "<step>.nnx-tmp-..." — every file and the directory fsynced, the
//    commit marker _COMMIT written last — then renamed into place. Only committed steps are
//    listed; a SIGKILL at any moment leaves latest_step() restorable. Old steps are deleted only
//    after the new one is committed, and the latest step is never deleted by a retention policy.
//  * Every array's XXH3 checksum is verified on every restore; sizes are checked before reading.
//  * Restore is strict: a target that differs in any path, kind, shape or dtype gets one
//    StructureError listing every difference. Partial restore and dtype casting only when asked.
//  * One writer per directory (a lock file); any number of read_only managers.
//  * Async: save() returns once the arrays are snapshotted — in O(1), since Arrays are
//    copy-on-write: training may modify the model at once, its writes go to fresh buffers. An
//    error surfaces at the next save, wait_until_finished or close; a failed save is never listed.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nnx/checkpoint/error.hpp"
#include "nnx/checkpoint/format.hpp"
#include "nnx/checkpoint/items.hpp"
#include "nnx/pure_dict.hpp"
#include "nnx/state.hpp"

namespace nnx::checkpoint {

using Metrics = std::map<std::string, double>;
enum class BestMode { min, max };

inline constexpr const char* kDefaultItem = "default";
// 2: _COMMIT is a manifest of every other file of the step (docs/checkpoint-format.md). A format-2
// reader reads format-1 steps (without that check); a format-1 reader refuses format-2 steps.
inline constexpr std::uint32_t kStepFormatVersion = 2;

// The system clock as unix milliseconds: the default Options::clock.
std::int64_t system_clock_unix_ms();

struct Options {
  std::optional<int> max_to_keep{};                          // unset: keep every step
  std::optional<std::int64_t> keep_period{};                 // steps divisible by it are never deleted
  std::optional<std::chrono::seconds> keep_time_interval{};  // keep one step per interval of commit time
  std::int64_t save_interval_steps = 1;                      // should_save is true every this many steps
  // Set: max_to_keep keeps the best steps by this score. A step whose metrics best_fn cannot score
  // (it throws, e.g. a metric missing from a damaged or older step, or returns NaN/inf) counts as a
  // step without metrics: kept when keep_checkpoints_without_metrics, never the best_step(); a
  // save never fails because of an old step's metrics.
  std::function<double(const Metrics&)> best_fn{};
  // Set instead of best_fn: the steps are ranked by this metric, and the name and best_mode are
  // recorded in the directory (_ROOT_METADATA), so that any later manager — a reader, nnx-ckpt
  // list — knows the best step without being told. best_fn, a function, cannot be recorded.
  std::string best_metric{};
  BestMode best_mode = BestMode::max;
  bool keep_checkpoints_without_metrics = true;
  std::string step_prefix{};           // "step" names directories "step_400"; empty: "400"
  int step_format_fixed_length = 0;    // 8: "00000400"
  bool create = true;                  // create the directory when missing
  // At start (writers only): remove leftovers of interrupted saves and deletions, and step-named
  // directories without _COMMIT (never committed). Steps put aside with set_aside() are kept.
  bool cleanup_tmp_directories = false;
  bool read_only = false;
  bool enable_async_checkpointing = false;
  // The time a step is committed at (StepMetadata::created_unix_ms), in unix milliseconds; the
  // times keep_time_interval compares. Replaceable for tests and replays; called once per save,
  // on the writer thread when saves are async, so it must be safe to call from another thread.
  std::function<std::int64_t()> clock = system_clock_unix_ms;
};

struct ItemInfo {
  std::string name;
  ItemType type = ItemType::state;  // on disk: "state" or "json"
  std::string file;  // relative to the step directory
  std::uint64_t bytes = 0;
};

// Size and XXH3-64 of one file of a step, as its _COMMIT manifest records them. For an array file
// the hash is that of its index, which holds every array's checksum: together every byte is covered.
struct FileDigest {
  std::uint64_t size = 0;
  std::uint64_t xxh3 = 0;
  bool operator==(const FileDigest&) const = default;
};

struct StepMetadata {
  std::int64_t step = 0;
  std::int64_t created_unix_ms = 0;  // when the step was committed
  Metrics metrics;
  std::vector<ItemInfo> items;
  std::uint32_t format_version = kStepFormatVersion;
  std::map<std::string, FileDigest> files;  // the manifest (empty for a format-1 step)
  std::uint64_t bytes() const;
};

struct RestoreOptions {
  bool partial = false;      // the checkpoint may hold paths the target does not (they are skipped)
  bool cast_dtypes = false;  // convert stored dtypes to the target's instead of failing
  // With no step given: when the latest step cannot be restored because it is damaged (any
  // CheckpointError but a usage error; never because the target does not fit), restore the newest
  // earlier step that can, saying on stderr which steps were skipped and why.
  bool fall_back_to_intact = false;
};

// What CheckpointManager::verify found in one step.
struct StepCheck {
  std::int64_t step = 0;
  std::uint64_t arrays = 0;            // arrays whose checksums were re-read and matched or not
  std::vector<std::string> problems;   // empty: every byte checked is sound
  bool deleted = false;  // a writer deleted the step while it was being checked: neither sound nor damaged
  bool ok() const { return problems.empty() && !deleted; }
};

// A step directory that the last scan (construction, reload) found damaged, and why.
struct DamagedStep {
  std::string name;       // the directory's name in the checkpoint directory
  std::int64_t step = 0;  // the step its name denotes
  std::string reason;
  // true: committed, so still in all_steps(), but its metadata cannot be read (restore with
  // fall_back_to_intact skips it; verify names the problem; set_aside moves it away). false: never
  // listed — its metadata records another step, another directory spells the same step, or it
  // was never committed (no _COMMIT: cleanup_tmp_directories removes it).
  bool listed = false;
};

// What save() did. Tests as a bool — `if (manager.save(...))`: a step was saved or is being saved.
struct SaveResult {
  enum class Status {
    skipped,    // should_save(step) was false: nothing written
    committed,  // synchronous: the step is on disk, committed, listed
    pending,    // asynchronous: the arrays are snapshotted and being written; the step is listed once
                // committed, and a failure surfaces at the next save, wait_until_finished or close
  };
  Status status = Status::skipped;
  explicit operator bool() const { return status != Status::skipped; }
  bool committed() const { return status == Status::committed; }
};

// A restore of the latest step (or of the newest intact one, when falling back): which step it was.
struct RestoredStep {
  std::int64_t step = 0;
  Composite items;
};

class CheckpointManager {
 public:
  explicit CheckpointManager(std::string directory, Options options = {});
  ~CheckpointManager();  // waits for a pending save; reports (cannot throw) its error on stderr
  CheckpointManager(const CheckpointManager&) = delete;
  CheckpointManager& operator=(const CheckpointManager&) = delete;

  // Saves `items` as `step` unless should_save(step) is false (then: skipped) and not `force`.
  // Synchronous: returns committed. Asynchronous: returns pending once the arrays are snapshotted;
  // latest_step() names the step only after its commit (pending_step() meanwhile).
  SaveResult save(std::int64_t step, const Composite& items, const Metrics& metrics = {}, bool force = false);
  SaveResult save(std::int64_t step, const State& state, const Metrics& metrics = {}, bool force = false);

  // Restores the items named in `targets` (States: abstract or concrete targets; JSON items:
  // any placeholder) from `step`, which defaults to the latest. Without a step, a latest step that
  // a writer deletes while it is being read is not an error: the directory is listed again and the
  // new latest step restored.
  Composite restore(std::optional<std::int64_t> step, const Composite& targets, const RestoreOptions& options = {}) const;
  State restore(std::optional<std::int64_t> step, const State& target, const RestoreOptions& options = {}) const;
  State restore(const State& target, const RestoreOptions& options = {}) const { return restore(std::nullopt, target, options); }
  // restore(std::nullopt, targets, options), also saying which step was restored (with
  // fall_back_to_intact it may be older than latest_step()).
  RestoredStep restore_latest(const Composite& targets, const RestoreOptions& options = {}) const;
  // One State item of a Composite by name: restore(step, "model", target).
  State restore(std::optional<std::int64_t> step, const std::string& item, const State& target,
                const RestoreOptions& options = {}) const;
  // Without a target: plain nested maps of Arrays (integer keys kept), as Orbax gives.
  PureDict restore_pure_dict(std::optional<std::int64_t> step = std::nullopt, const std::string& item = kDefaultItem) const;
  // Without a target: a State with the kinds and metadata as stored.
  State restore_state(std::optional<std::int64_t> step = std::nullopt, const std::string& item = kDefaultItem) const;
  JsonItem restore_json(std::optional<std::int64_t> step, const std::string& item) const;
  // A State item's array file, opened and checked against the step's manifest (_COMMIT): its index
  // (paths, kinds, shapes, checksums) can be read without reading any array (nnx-ckpt show).
  ArrayFileReader array_file(std::optional<std::int64_t> step, const std::string& item = kDefaultItem) const;

  // Re-reads every array and JSON item of `step`, checking every checksum (nnx-ckpt verify).
  StepCheck verify(std::int64_t step) const;
  // The newest step that verifies, or nothing; re-reads each step it tries, newest first.
  std::optional<std::int64_t> latest_intact_step() const;
  // Moves a (damaged) step out of the way without deleting anything: its directory is renamed to
  // "<name>.nnx-damaged-<suffix>", which is never listed nor removed by nnx; inspect it, then
  // delete it by hand. Frees the step's number for a new save. Returns the new path.
  std::string set_aside(std::int64_t step);

  // Whether `step`'s directory still holds _COMMIT: a writer (retention, delete_step) may have
  // deleted a step since this manager listed it. A reader that fails on such a step skips it.
  bool is_committed(std::int64_t step) const;

  // The newest committed step (never one still being written, nor one that failed).
  std::optional<std::int64_t> latest_step() const;
  // The step an asynchronous save is writing now, if any; it becomes latest_step() when committed.
  std::optional<std::int64_t> pending_step() const;
  std::vector<std::int64_t> all_steps() const;
  // Step directories found damaged by the last scan, by name; a damaged step never stops the scan,
  // saving or retention (nnx-ckpt list shows them).
  std::vector<DamagedStep> damaged_steps() const;
  // The best step by best_fn or best_metric, else by the best_metric recorded in the directory;
  // none without any of them or without scored steps. A damaged record is a CheckpointError.
  std::optional<std::int64_t> best_step() const;
  // What ranks the steps: "max val_accuracy" (best_metric or the record), "best_fn", or "" (nothing).
  std::string best_policy() const;
  bool should_save(std::int64_t step) const;
  void wait_until_finished();  // rethrows the error of a failed async save
  void delete_step(std::int64_t step);
  void reload();  // re-reads the directory (another process may have saved)
  StepMetadata metadata(std::int64_t step) const;
  void close();   // waits, then releases the writer lock; the manager is unusable after

  const std::string& directory() const { return directory_; }
  std::string step_directory(std::int64_t step) const;  // where `step` lives (or would)
  const Options& options() const { return options_; }

 private:
  struct StepRecord {
    std::int64_t step;
    std::string name;  // directory name
    std::int64_t created_unix_ms;
    Metrics metrics;
  };

  struct OpenedStep;  // restore.cpp: a step's directory and metadata (read once), and access to its items

  void open_directory();  // the constructor's work after the lock: cleanup, best policy, scan
  void scan();
  // The committed steps on disk now, ascending; the damaged step directories into `damaged`.
  std::vector<StepRecord> list_steps(std::vector<DamagedStep>* damaged = nullptr) const;
  // rank_ of a step's metrics; nothing when it has none, rank_ throws, or the score is not finite.
  std::optional<double> best_score(const StepRecord& record) const;
  void load_best_policy();  // sets rank_, rank_mode_, rank_name_ from the options or the record
  std::int64_t resolve(std::optional<std::int64_t> step) const;
  OpenedStep open_step(std::int64_t step) const;  // step: resolved
  Composite restore_step(std::int64_t step, const Composite& targets, const RestoreOptions& options) const;
  void write_step(std::int64_t step, const Composite& items, const Metrics& metrics);
  void apply_retention();
  void remove_step_directory(const std::string& name);
  void finish_pending();  // joins the writer thread, rethrows its error
  void check_writable(const char* what) const;

  std::string directory_;
  Options options_;
  int lock_fd_ = -1;
  bool closed_ = false;
  // The writer thread, its error, and the mutex guarding steps_, damaged_ and pending_ (the writer
  // thread changes them): in manager.cpp, so that this header needs neither <thread> nor <mutex>.
  struct Concurrency;
  std::unique_ptr<Concurrency> sync_;
  std::vector<StepRecord> steps_;  // committed steps, ascending
  std::vector<DamagedStep> damaged_;  // as of the last scan
  std::optional<std::int64_t> pending_;  // the step the writer thread is writing (guarded by mutex_)
  // What best_step() ranks by: best_fn, best_metric or the directory's record; retention uses it
  // only when it comes from the options (rank_from_options_).
  std::function<double(const Metrics&)> rank_;
  BestMode rank_mode_ = BestMode::max;
  std::string rank_name_;         // for best_policy()
  std::string rank_problem_;      // a damaged record: best_step() throws this
  bool rank_from_options_ = false;
};

// The directory name of `step` under `options`, e.g. "400", "step_00000400".
std::string step_name(std::int64_t step, const Options& options);
// The step a directory name denotes, or nothing (temporary directories, other files). Any zero
// padding is accepted (a reader need not know the writer's width); where two directories denote one
// step, the manager lists only one (its own spelling first).
std::optional<std::int64_t> parse_step_name(const std::string& name, const Options& options);
// Reads a committed step's metadata from its directory (validating format and version).
StepMetadata read_step_metadata(const std::string& step_directory);

}  // namespace nnx::checkpoint
