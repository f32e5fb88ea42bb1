// The three reductions of DataParallel: the mean over all S shards of per-shard tensors.
#pragma once

#include <string>
#include <vector>

#include "nnx/array.hpp"
#include "nnx/distributed/data_parallel.hpp"

namespace nnx::distributed::detail {

struct ShardTensors {
  std::vector<std::string> names;          // per tensor, for error messages ("layers/0/kernel")
  std::vector<std::vector<Array>> local;   // [local shard][tensor], shards in ascending order
  // Reduction::exact: per tensor the largest exponent over the local shards (fixed_point::kZero when
  // all are zero), and the local shards where it is NaN or infinite. Filled by add_shard while the
  // shard's values are still in cache.
  std::vector<std::int64_t> exponents;
  std::vector<std::vector<std::int64_t>> nonfinite_shards;
  // Integers that must be equal on every rank (RNG counters): checked within the same small
  // allreduce as the exponents.
  std::vector<std::int64_t> must_agree;
  // Known before any shard runs and the same on every rank (from the model's structure), so that a
  // rank whose shards failed still sends a vector of the right length in the small allreduce.
  std::size_t expected_tensors = 0, expected_counters = 0;
  std::string error;  // this rank's shards failed with it (every rank then throws it)
};

// Buffers kept by a DataParallel across steps: reused, so a step does not page-fault megabytes of
// fresh memory in.
struct Workspace {
  std::vector<std::int64_t> acc;  // exact: the integer sums
  std::vector<float> flat, sum;   // fast, gather: local shards flattened, their sum
};

// Appends one shard's tensors (all shards of a step have the same tensors, in the same order).
void add_shard(ShardTensors& tensors, std::vector<Array> values, std::int64_t shard, Reduction reduction);

// The mean over dp's S shards of each tensor (this rank holding dp.my_shards()), on every rank, by
// dp's Reduction.
std::vector<Array> mean_over_shards(const Communicator& comm, const DataParallel& dp, const ShardTensors& tensors,
                                    Workspace& work);

}  // namespace nnx::distributed::detail
