// nnx/distributed/coordinated_run.hpp — checkpoints of a data-parallel run, Orbax-style: replicated
// state written once, by rank 0, into an ordinary checkpoint directory; every rank learns the outcome.
//
//   nnx::distributed::CoordinatedRun run(comm, dir, {.max_to_keep = 3});   // collective
//   run.add("model", model).add("optimizer", opt).add("data", loader);    // on every rank, same order
//   const std::int64_t start = run.resume_or_start().value_or(0);          // rank 0 reads, broadcasts
//   for (std::int64_t step = start + 1; step <= steps; ++step) {
//     ... dp.train_step(...) ...
//     if (run.should_save(step)) run.save(step, {{"val_accuracy", acc}});  // collective
//   }
//   run.wait_until_finished();                                              // collective
//
// Contracts:
//  * Only rank 0 opens the directory (a checkpoint::CheckpointManager + Resumable): the other ranks
//    never touch it, so it may live on rank 0's local disk or on a shared filesystem. The steps
//    are ordinary checkpoint steps: nnx-ckpt lists, verifies, diffs and digests them unchanged.
//  * save() is a collective: every rank first reaches the step (an allreduce), then rank 0 saves,
//    then rank 0's outcome (committed, pending, skipped — or its error, e.g. disk full) is
//    broadcast; an error is thrown as CollectiveError on EVERY rank. No rank believes a step is saved
//    that is not, and nobody waits forever: a rank that dies makes mpirun end the job, and the
//    manager's atomic commit means a step killed mid-write is never listed.
//  * Async saves (enable_async_checkpointing): rank 0 writes in the background; a failure surfaces
//    on every rank at the next save() or wait_until_finished() (both collectives). Call
//    wait_until_finished() before the end: rank 0's destructor can only print a late error.
//  * resume_or_start(): rank 0 restores the latest (intact) step, then broadcasts each item's
//    values; every rank checks that they fit its own objects (same paths, kinds, dtypes, shapes).
//    The data loader's position is global (every rank reads the same global batches), so it is
//    saved once and restored on any number of processes.
//  * Every rank must call the collectives in the same order with the same arguments.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nnx/checkpoint/manager.hpp"
#include "nnx/checkpoint/resumable.hpp"
#include "nnx/distributed/communicator.hpp"

namespace nnx::distributed {

class CoordinatedRun {
 public:
  CoordinatedRun(const Communicator& comm, std::string directory, checkpoint::Options options = {},
                 checkpoint::ResumableOptions resumable = {});
  ~CoordinatedRun();

  CoordinatedRun& add(const std::string& name, Module& module);
  // Needs <nnx/checkpoint/json.hpp> where it is called (as Resumable::add_json).
  template <class T> CoordinatedRun& add_json(const std::string& name, T& value) {
    add_json_item(name, [&value] { return checkpoint::JsonItem::from(value); },
                  [&value](const checkpoint::JsonItem& j) { value = j.template get<T>(); });
    if (run_) run_->add_json(name, value);  // rank 0 saves and restores it
    return *this;
  }

  std::optional<std::int64_t> resume_or_start();
  checkpoint::SaveResult save(std::int64_t step, const checkpoint::Metrics& metrics = {}, bool force = false);
  void wait_until_finished();
  // Appends to rank 0's metrics log (<dir>/metrics.jsonl); no communication, nothing elsewhere.
  void log(std::int64_t step, const checkpoint::Metrics& metrics);

  bool should_save(std::int64_t step) const;  // the options' rule: the same on every rank
  // The latest committed step as rank 0 reported it at the last collective call.
  std::optional<std::int64_t> latest_step() const { return latest_; }
  // Rank 0's manager (for queries such as best_step()); nullptr on the other ranks.
  checkpoint::CheckpointManager* manager() { return manager_.get(); }
  const std::string& directory() const { return directory_; }

 private:
  struct Item {
    std::string name;
    Module* module = nullptr;
    std::function<checkpoint::JsonItem()> to_json;
    std::function<void(const checkpoint::JsonItem&)> from_json;
  };
  CoordinatedRun& add_json_item(const std::string& name, std::function<checkpoint::JsonItem()> to_json,
                                std::function<void(const checkpoint::JsonItem&)> from_json);
  void broadcast_items();  // rank 0's values of every item to every rank

  const Communicator& comm_;
  std::string directory_;
  checkpoint::Options options_;
  std::unique_ptr<checkpoint::CheckpointManager> manager_;  // rank 0 only
  std::unique_ptr<checkpoint::Resumable> run_;              // rank 0 only
  std::vector<Item> items_;
  std::optional<std::int64_t> latest_;
};

}  // namespace nnx::distributed
