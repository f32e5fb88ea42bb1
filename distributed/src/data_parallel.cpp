// DataParallel::Step: what one training step changes besides the gradients (RNG streams, batch
// statistics), made a function of the global shard index; the reductions are in reduce.cpp.
#include "nnx/distributed/data_parallel.hpp"

#include "nnx/error.hpp"
#include "nnx/graph.hpp"
#include "nnx/key.hpp"
#include "reduce.hpp"

namespace nnx::distributed {

const char* reduction_name(Reduction r) {
  switch (r) {
    case Reduction::exact: return "exact";
    case Reduction::gather: return "gather";
    case Reduction::fast: return "fast";
  }
  return "?";
}

DataParallel::DataParallel(const Communicator& comm, DataParallelOptions options)
    : comm_(&comm), options_(options), work_(std::make_shared<detail::Workspace>()) {
  if (options_.shards < 1 || options_.shards < comm.size())
    throw Error("DataParallel: " + std::to_string(options_.shards) + " shards for " + std::to_string(comm.size()) +
                " processes; every rank needs at least one shard: use shards >= the number of processes (and keep it "
                "fixed across runs: the shard count, not the process count, decides the bits)");
}

ShardRange DataParallel::shards_of(int rank) const {
  const std::int64_t s = options_.shards, p = comm_->size();
  return {rank * s / p, (rank + 1) * s / p};
}

struct DataParallel::Step::Impl {
  const DataParallel& dp;
  Module& model;
  Batch batch;
  std::int64_t rows = 0;   // per shard
  State rng0;              // RngKey and RngCount at the step's start
  State stats0;            // BatchStat at the step's start
  State counts;            // RngCount after the first shard (every shard must agree)
  State grads_template;    // paths and kinds of the gradients
  detail::ShardTensors tensors;
  std::string error;  // this rank's shards failed
  bool finished = false;

  Impl(const DataParallel& d, Module& m, const Batch& b) : dp(d), model(m), batch(b) {
    const std::int64_t n = batch.x.ndim() ? batch.x.dim(0) : 0, s = dp.options().shards;
    if (n == 0 || n % s != 0 || batch.y.ndim() < 1 || batch.y.dim(0) != n)
      throw Error("DataParallel::train_step: the global batch has " + std::to_string(n) + " rows (x " +
                  batch.x.shape_dtype().str() + ", y " + batch.y.shape_dtype().str() + "); expected a positive multiple of "
                  "the " + std::to_string(s) + " shards, with as many labels: every shard must weigh the same in the mean");
    rows = n / s;
    rng0 = nnx::state(model, RngState{});
    stats0 = nnx::state(model, BatchStat{});
    // Gradients (wrt Param), batch statistics and the loss; the RNG counters.
    tensors.expected_tensors = nnx::state(model, Param{}).size() + stats0.size() + 1;
    tensors.expected_counters = rng0.filter(RngCount{}).size();
  }

  void restore_start() {
    nnx::update(model, rng0);
    if (!stats0.empty()) nnx::update(model, stats0);
  }
};

DataParallel::Step::Step(const DataParallel& dp, Module& model, const Batch& batch)
    : impl_(std::make_unique<Impl>(dp, model, batch)) {}

DataParallel::Step::~Step() {
  if (impl_ && !impl_->finished) impl_->restore_start();
}

ShardRange DataParallel::Step::shards() const { return impl_->dp.my_shards(); }

Batch DataParallel::Step::enter(std::int64_t shard) {
  Impl& s = *impl_;
  State rng = s.rng0;
  for (auto& [path, var] : rng)
    if (var.kind().is_a(RngKey::static_kind())) {
      const std::uint32_t* w = var.value.data<std::uint32_t>();
      const Key k = fold_in(Key{w[0], w[1]}, static_cast<std::uint32_t>(shard));
      var.value = Array::from_values<std::uint32_t>({2}, {k.hi, k.lo});
    }
  s.restore_start();
  nnx::update(s.model, rng);
  const Dataset rows = Dataset{s.batch.x, s.batch.y}.rows(shard * s.rows, (shard + 1) * s.rows);
  return Batch{rows.features, rows.labels};
}

void DataParallel::Step::leave(Array loss, State grads) {
  Impl& s = *impl_;
  const std::int64_t shard = s.dp.my_shards().begin + static_cast<std::int64_t>(s.tensors.local.size());
  if (loss.numel() != 1) throw Error("DataParallel::train_step: the loss function returned " + loss.shape_dtype().str() + "; expected one number");
  State counts = nnx::state(s.model, RngCount{});
  if (s.tensors.local.empty()) {
    s.counts = counts;
    s.grads_template = grads;
    for (const auto& [path, var] : grads) s.tensors.names.push_back(path.str());
    for (const auto& [path, var] : s.stats0) s.tensors.names.push_back(path.str() + " (BatchStat)");
    s.tensors.names.push_back("loss");
    for (const auto& [path, var] : counts) s.tensors.must_agree.push_back(var.value.item<std::uint32_t>());
  } else if (!state_equal(counts, s.counts)) {
    throw Error("DataParallel::train_step: shards drew different numbers of random keys (RNG counters differ between "
                "shards); the draws of a step must not depend on the data");
  }
  std::vector<Array> values;
  for (auto& [path, var] : grads) values.push_back(std::move(var.value));
  for (const auto& [path, var] : nnx::state(s.model, BatchStat{})) values.push_back(var.value);
  values.push_back(loss.reshape(Shape()));
  detail::add_shard(s.tensors, std::move(values), shard, s.dp.options().reduction);
}

void DataParallel::Step::fail(const std::string& error) { impl_->error = error.empty() ? "an exception without a message" : error; }

Array DataParallel::Step::finish(Optimizer& optimizer) {
  Impl& s = *impl_;
  s.tensors.error = s.error;  // agreed on in the reduction's small allreduce: every rank throws it
  std::vector<Array> mean = detail::mean_over_shards(s.dp.comm(), s.dp, s.tensors, *s.dp.work_);
  // RNG streams: the step's keys, advanced by one shard's draws.
  State keys = s.rng0.filter(RngKey{});
  nnx::update(s.model, keys, s.counts);
  std::size_t i = 0;
  for (auto& [path, var] : s.grads_template) var.value = std::move(mean[i++]);
  State stats = s.stats0;
  for (auto& [path, var] : stats) var.value = std::move(mean[i++]);
  if (!stats.empty()) nnx::update(s.model, stats);
  s.finished = true;
  optimizer.update(s.model, std::move(s.grads_template));
  return mean[i];
}

}  // namespace nnx::distributed
