// nnx/distributed/data_parallel.hpp — data-parallel training whose result does not depend on the
// number of processes.
//
//   nnx::distributed::Communicator comm(argc, argv);
//   nnx::distributed::DataParallel dp(comm, {.shards = 8});   // the default: Reduction::exact
//   nnx::DataLoader loader(train, 256, rngs);                  // the GLOBAL batch, same seed on every rank
//   for (...) {
//     nnx::Batch batch = loader.next();                        // every rank: the same global batch
//     nnx::Array loss = dp.train_step(model, opt, batch, [](auto& m, const nnx::Batch& b) {
//       return nnx::softmax_cross_entropy(m(b.x), b.y);        // the mean over the shard's rows
//     });
//   }
//
// The global batch is cut into a FIXED number of shards (options.shards, independent of the world
// size; its rows must divide evenly); rank r computes shards [r*S/P, (r+1)*S/P) with the ordinary
// nnx::value_and_grad, one shard at a time. The mean of the shard gradients is formed by the chosen
// Reduction and every rank applies the same optimizer update. With Reduction::exact (the default)
// and Reduction::gather the updated parameters are bitwise identical for every world size from 1
// to S: see docs/distributed.md for the argument, and fixed_point.hpp for the exact sum.
//
// Everything else a step changes is made world-size invariant too:
//  * RNG streams in the model (Dropout): shard s draws with each stream's key folded with s
//    (fold_in(key, s)), from the step's counter; after the step every stream has advanced by the
//    draws of one shard. Masks depend on the global shard index, never on the rank.
//  * BatchStat (BatchNorm): each shard normalises with its own statistics ("ghost batch norm" over
//    the shard's rows), and starts from the step's running averages; the new running averages are
//    the mean over shards of each shard's update, reduced like the gradients.
//  * The loss returned is the mean of the shard losses, the same number on every rank.
// A NaN or infinite gradient is a CollectiveError on every rank in Reduction::exact (it cannot become
// an integer, and must not silently become a number); the other reductions let it propagate. An
// exception on one rank's shards (the loss function's, a shape error) is thrown on every rank.
// Every rank must call train_step with the same global batch at the same time (a collective).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "nnx/autodiff.hpp"
#include "nnx/data.hpp"
#include "nnx/distributed/communicator.hpp"
#include "nnx/optim.hpp"

namespace nnx::distributed {

namespace detail {
struct Workspace;  // reduce.hpp: buffers reused from step to step
}

enum class Reduction {
  exact,   // int64 fixed point with a shared exponent per tensor: ONE int64 allreduce (2x a float's bytes)
  gather,  // every shard's float gradient gathered to every rank, summed in shard order: S x the bytes
  fast,    // plain float MPI_Allreduce: bits may change with the world size (as PyTorch DDP)
};
const char* reduction_name(Reduction r);

struct DataParallelOptions {
  std::int64_t shards = 8;  // of each global batch; fixed for a run (changing it changes the bits)
  Reduction reduction = Reduction::exact;
};

struct ShardRange {
  std::int64_t begin = 0, end = 0;  // [begin, end)
  std::int64_t size() const { return end - begin; }
};

class DataParallel {
 public:
  // Throws nnx::Error when shards < 1 or shards < comm.size() (a rank would have nothing to do).
  DataParallel(const Communicator& comm, DataParallelOptions options = {});

  ShardRange shards_of(int rank) const;  // contiguous, sizes differ by at most one
  ShardRange my_shards() const { return shards_of(comm_->rank()); }
  const Communicator& comm() const { return *comm_; }
  const DataParallelOptions& options() const { return options_; }

  // One training step on the global `batch`: loss_fn(model, shard_batch) returns the mean loss over
  // the shard's rows. Returns the mean of the S shard losses (identical on every rank).
  template <class M, class F> Array train_step(M& model, Optimizer& optimizer, const Batch& batch, F&& loss_fn);

  // The non-template part of train_step (data_parallel.cpp). Restores the model's RNG keys and
  // batch statistics to the step's start if destroyed before finish() (an exception mid-step).
  class Step {
   public:
    Step(const DataParallel& dp, Module& model, const Batch& batch);
    ~Step();
    ShardRange shards() const;
    Batch enter(std::int64_t shard);         // the shard's rows; the model's RNG/BatchStat set for it
    void leave(Array loss, State grads);     // keeps the shard's gradients, statistics and loss
    void fail(const std::string& error);     // this rank's shards failed with `error`
    // A collective: first every rank learns whether one failed (then all throw that error), then
    // the reduction and the update; returns the mean loss.
    Array finish(Optimizer& optimizer);

   private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
  };

 private:
  const Communicator* comm_;
  DataParallelOptions options_;
  std::shared_ptr<detail::Workspace> work_;
};

template <class M, class F>
Array DataParallel::train_step(M& model, Optimizer& optimizer, const Batch& batch, F&& loss_fn) {
  Step step(*this, model, batch);
  try {
    for (std::int64_t s = step.shards().begin; s < step.shards().end; ++s) {
      const Batch rows = step.enter(s);
      auto result = value_and_grad(model, [&](M& m) { return loss_fn(m, rows); });
      step.leave(std::move(result.value), std::move(result.grads));
    }
  } catch (const std::exception& e) {
    step.fail(e.what());  // finish() throws it on every rank: the others must not wait for this one
  }
  return step.finish(optimizer);
}

}  // namespace nnx::distributed
