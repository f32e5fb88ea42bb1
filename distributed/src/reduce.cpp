#include "reduce.hpp"

#include "nnx/distributed/fixed_point.hpp"
#include "agree.hpp"
#include "nnx/error.hpp"

namespace nnx::distributed::detail {

namespace {
namespace fp = fixed_point;

std::vector<Array> like(const std::vector<Array>& tensors) {
  std::vector<Array> out;
  for (const Array& t : tensors) out.push_back(Array::empty(t.shape(), t.dtype()));
  return out;
}

void check_float32(const ShardTensors& t, Reduction r) {  // the same on every rank: the same model
  for (std::size_t i = 0; i < t.names.size(); ++i)
    if (t.local[0][i].dtype() != DType::float32)
      throw CollectiveError(std::string("DataParallel: Reduction::") + reduction_name(r) + " reduces float32 tensors, but '" +
                  t.names[i] + "' is " + t.local[0][i].shape_dtype().str() + "; use Reduction::exact (float32 and float64)");
}

// Checks that every rank holds the same `must_agree` integers: max(x) == -max(-x) over ranks.
void agree(const Communicator& comm, std::vector<std::int64_t> values, std::size_t at, const std::vector<std::int64_t>& mine) {
  for (std::size_t i = 0; i < mine.size(); ++i)
    if (values[at + 2 * i] != -values[at + 2 * i + 1])
      throw CollectiveError("DataParallel: the ranks disagree on RNG counter " + std::to_string(i) + " (this rank " +
                  std::to_string(comm.rank()) + ": " + std::to_string(mine[i]) + ", the largest: " +
                  std::to_string(values[at + 2 * i]) + "); every shard must draw the same number of random keys — "
                  "a draw that depends on the data breaks world-size invariance");
}

// The step's one small MPI_MAX, laid out [failure, exponent per tensor, non-finite flag per tensor,
// RNG counters as x and -x] (exponents and flags only for Reduction::exact). A rank whose shards
// failed sends its failure and neutral values; then every rank throws that failure. Returns the
// reduced vector without its failure element.
std::vector<std::int64_t> small_max(const Communicator& comm, const ShardTensors& t, bool exponents) {
  const std::size_t n = exponents ? t.expected_tensors : 0, c = t.expected_counters;
  std::string error = t.error;
  if (error.empty() && ((exponents && t.names.size() != n) || t.must_agree.size() != c))
    error = "internal error: the step produced " + std::to_string(t.names.size()) + " tensors and " +
            std::to_string(t.must_agree.size()) + " RNG counters; the model's structure announced " +
            std::to_string(t.expected_tensors) + " and " + std::to_string(c) + " (gradients must be taken wrt Param)";
  std::vector<std::int64_t> small(1 + 2 * n + 2 * c, 0);
  small[0] = failure_slot(comm, error);
  for (std::size_t i = 0; i < n; ++i) small[1 + i] = error.empty() ? t.exponents[i] : fp::kZero;
  for (std::size_t i = 0; i < n && error.empty(); ++i) small[1 + n + i] = !t.nonfinite_shards[i].empty();
  for (std::size_t k = 0; k < c && error.empty(); ++k) small[1 + 2 * n + 2 * k] = t.must_agree[k], small[2 + 2 * n + 2 * k] = -t.must_agree[k];
  comm.allreduce_max(small);
  throw_if_failed(comm, small[0], std::move(error), "DataParallel::train_step");
  small.erase(small.begin());
  agree(comm, small, 2 * n, t.must_agree);
  return small;
}

std::vector<Array> exact(const Communicator& comm, std::int64_t shards, const ShardTensors& t, Workspace& work) {
  const std::size_t n = t.expected_tensors;
  const std::vector<std::int64_t> small = small_max(comm, t, true);
  std::string bad;
  for (std::size_t i = 0; i < n; ++i)
    if (small[n + i]) {
      bad += (bad.empty() ? "'" : ", '") + t.names[i] + "'";
      for (std::int64_t s : t.nonfinite_shards[i]) bad += " (shard " + std::to_string(s) + " on this rank)";
    }
  if (!bad.empty())
    throw CollectiveError("DataParallel: a gradient (or statistic) is NaN or infinite: " + bad +
                "; the exact reduction refuses to turn it into a number. Every rank stops here with this error. Lower the "
                "learning rate, clip gradients, or check the inputs of the step");

  const int bits = fp::scale_bits(shards);
  std::vector<std::size_t> offset(n + 1, 0);
  for (std::size_t i = 0; i < n; ++i) offset[i + 1] = offset[i] + static_cast<std::size_t>(t.local[0][i].numel());
  std::vector<std::int64_t>& acc = work.acc;
  acc.assign(offset[n], 0);
  for (std::size_t i = 0; i < n; ++i) {  // per tensor, every local shard in one pass
    const std::size_t len = offset[i + 1] - offset[i];
    if (t.local[0][i].dtype() == DType::float32) {
      std::vector<const float*> xs;
      for (const auto& shard : t.local) xs.push_back(shard[i].data<float>());
      fp::accumulate(xs.data(), xs.size(), len, small[i], bits, &acc[offset[i]]);
    } else {
      std::vector<const double*> xs;
      for (const auto& shard : t.local) xs.push_back(shard[i].data<double>());
      fp::accumulate(xs.data(), xs.size(), len, small[i], bits, &acc[offset[i]]);
    }
  }
  comm.allreduce_sum(acc);  // integers: exact, whatever order MPI adds the ranks in
  std::vector<Array> out = like(t.local[0]);
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t len = offset[i + 1] - offset[i];
    if (out[i].dtype() == DType::float32) fp::to_mean(&acc[offset[i]], len, small[i], bits, shards, out[i].mutable_data<float>());
    else fp::to_mean(&acc[offset[i]], len, small[i], bits, shards, out[i].mutable_data<double>());
  }
  return out;
}

// Every shard's tensors as one float vector, shard-major: [shard][tensor][element].
void flatten(const ShardTensors& t, std::size_t per_shard, std::vector<float>& flat) {
  flat.clear();
  flat.reserve(per_shard * t.local.size());
  for (const auto& shard : t.local)
    for (const Array& a : shard) flat.insert(flat.end(), a.data<float>(), a.data<float>() + a.numel());
}

std::vector<Array> unflatten(const std::vector<float>& sum, std::int64_t shards, const ShardTensors& t) {
  std::vector<Array> out = like(t.local[0]);
  std::size_t at = 0;
  for (Array& a : out) {
    float* p = a.mutable_data<float>();
    for (std::int64_t j = 0; j < a.numel(); ++j) p[j] = sum[at++] / static_cast<float>(shards);
  }
  return out;
}

std::vector<Array> gather(const Communicator& comm, std::int64_t shards, const DataParallel& dp, const ShardTensors& t,
                          Workspace& work) {
  std::size_t per_shard = 0;
  for (const Array& a : t.local[0]) per_shard += static_cast<std::size_t>(a.numel());
  std::vector<std::int64_t> counts;
  for (int r = 0; r < comm.size(); ++r) counts.push_back(dp.shards_of(r).size() * static_cast<std::int64_t>(per_shard));
  flatten(t, per_shard, work.flat);
  const std::vector<float> all = comm.allgather(work.flat, counts);  // rank order = shard order
  std::vector<float>& sum = work.sum;
  sum.assign(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(per_shard));
  for (std::int64_t s = 1; s < shards; ++s)
    for (std::size_t j = 0; j < per_shard; ++j) sum[j] += all[static_cast<std::size_t>(s) * per_shard + j];
  return unflatten(sum, shards, t);
}

std::vector<Array> fast(const Communicator& comm, std::int64_t shards, const ShardTensors& t, Workspace& work) {
  std::size_t per_shard = 0;
  for (const Array& a : t.local[0]) per_shard += static_cast<std::size_t>(a.numel());
  flatten(t, per_shard, work.flat);
  const std::vector<float>& flat = work.flat;
  std::vector<float>& sum = work.sum;
  sum.assign(flat.begin(), flat.begin() + static_cast<std::ptrdiff_t>(per_shard));
  for (std::size_t s = 1; s < t.local.size(); ++s)
    for (std::size_t j = 0; j < per_shard; ++j) sum[j] += flat[s * per_shard + j];
  comm.allreduce_sum(sum);
  return unflatten(sum, shards, t);
}
}  // namespace

void add_shard(ShardTensors& t, std::vector<Array> values, std::int64_t shard, Reduction reduction) {
  if (reduction == Reduction::exact) {
    t.exponents.resize(values.size(), fp::kZero);
    t.nonfinite_shards.resize(values.size());
    for (std::size_t i = 0; i < values.size(); ++i) {
      const Array& a = values[i];
      const auto len = static_cast<std::size_t>(a.numel());
      bool nonfinite = false;
      std::int64_t e = 0;
      if (a.dtype() == DType::float32) e = fp::max_exponent(a.data<float>(), len, nonfinite);
      else if (a.dtype() == DType::float64) e = fp::max_exponent(a.data<double>(), len, nonfinite);
      else throw Error("DataParallel: cannot reduce '" + t.names[i] + "', " + a.shape_dtype().str() + "; expected float32 or float64");
      t.exponents[i] = std::max(t.exponents[i], e);
      if (nonfinite) t.nonfinite_shards[i].push_back(shard);
    }
  }
  t.local.push_back(std::move(values));
}

std::vector<Array> mean_over_shards(const Communicator& comm, const DataParallel& dp, const ShardTensors& tensors,
                                    Workspace& work) {
  const Reduction r = dp.options().reduction;
  const std::int64_t shards = dp.options().shards;
  if (r == Reduction::exact) return exact(comm, shards, tensors, work);
  small_max(comm, tensors, false);  // a failed rank, or disagreeing RNG counters: every rank throws
  check_float32(tensors, r);
  return r == Reduction::gather ? gather(comm, shards, dp, tensors, work) : fast(comm, shards, tensors, work);
}

}  // namespace nnx::distributed::detail
