#include "nnx/distributed/communicator.hpp"

#include <mpi.h>

#include <bit>
#include <climits>
#include <exception>
#include <iostream>

#include "nnx/error.hpp"

namespace nnx::distributed {

static_assert(std::endian::native == std::endian::little,
              "nnx::distributed sends arrays between ranks as their little-endian bytes");

namespace {
// MPI counts are int: larger messages go in pieces (never silently truncated).
constexpr std::int64_t kChunk = INT_MAX / 8;

template <class T> MPI_Datatype mpi_type();
template <> MPI_Datatype mpi_type<std::int64_t>() { return MPI_INT64_T; }
template <> MPI_Datatype mpi_type<float>() { return MPI_FLOAT; }
template <> MPI_Datatype mpi_type<double>() { return MPI_DOUBLE; }

template <class T> void allreduce(std::span<T> values, MPI_Op op) {
  for (std::size_t at = 0; at < values.size(); at += kChunk) {
    const auto n = static_cast<int>(std::min<std::size_t>(kChunk, values.size() - at));
    MPI_Allreduce(MPI_IN_PLACE, values.data() + at, n, mpi_type<T>(), op, MPI_COMM_WORLD);
  }
}

template <class T>
std::vector<T> gather(std::span<const T> mine, std::span<const std::int64_t> counts, int size, int rank) {
  if (static_cast<int>(counts.size()) != size || counts[static_cast<std::size_t>(rank)] != static_cast<std::int64_t>(mine.size()))
    throw Error("Communicator::allgather: expected " + std::to_string(size) + " counts with this rank's (" +
                std::to_string(rank) + ") equal to its " + std::to_string(mine.size()) + " elements");
  std::vector<int> n(static_cast<std::size_t>(size)), at(static_cast<std::size_t>(size));
  std::int64_t total = 0;
  for (int r = 0; r < size; ++r) {
    at[static_cast<std::size_t>(r)] = static_cast<int>(total);
    n[static_cast<std::size_t>(r)] = static_cast<int>(counts[static_cast<std::size_t>(r)]);
    total += counts[static_cast<std::size_t>(r)];
  }
  if (size == 1) return std::vector<T>(mine.begin(), mine.end());  // nothing to exchange
  if (total > INT_MAX) throw Error("Communicator::allgather: " + std::to_string(total) + " elements exceed MPI's int counts");
  std::vector<T> all(static_cast<std::size_t>(total));
  MPI_Allgatherv(mine.data(), static_cast<int>(mine.size()), mpi_type<T>(), all.data(), n.data(), at.data(),
                 mpi_type<T>(), MPI_COMM_WORLD);
  return all;
}
}  // namespace

Communicator::Communicator(int& argc, char**& argv) { init(&argc, &argv); }
Communicator::Communicator() { init(nullptr, nullptr); }

void Communicator::init(int* argc, char*** argv) {
  uncaught_ = std::uncaught_exceptions();
  int initialised = 0;
  MPI_Initialized(&initialised);
  if (!initialised) {
    int provided = 0;
    MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
    owns_mpi_ = true;
    if (provided < MPI_THREAD_FUNNELED) {
      MPI_Finalize();
      throw Error("Communicator: this MPI provides thread level " + std::to_string(provided) +
                  ", below MPI_THREAD_FUNNELED, which nnx needs (checkpoint writer threads run beside MPI)");
    }
  }
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
}

Communicator::~Communicator() {
  if (std::uncaught_exceptions() > uncaught_ && size_ > 1) {
    std::cerr << "nnx::distributed: rank " << rank_ << " is unwinding an exception past its Communicator; "
              << "aborting the job so that no other rank waits for it forever\n";
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  int finalised = 0;
  MPI_Finalized(&finalised);
  if (owns_mpi_ && !finalised) MPI_Finalize();
}

void Communicator::barrier() const { MPI_Barrier(MPI_COMM_WORLD); }

void Communicator::broadcast(std::vector<std::uint8_t>& bytes, int root) const {
  std::uint8_t header[8];  // the length, little-endian uint64
  std::uint64_t n = bytes.size();
  for (int i = 0; i < 8; ++i) header[i] = static_cast<std::uint8_t>(n >> (8 * i));
  MPI_Bcast(header, 8, MPI_UINT8_T, root, MPI_COMM_WORLD);
  n = 0;
  for (int i = 0; i < 8; ++i) n |= std::uint64_t{header[i]} << (8 * i);
  if (n > (std::uint64_t{1} << 40))
    throw Error("Communicator::broadcast: rank " + std::to_string(root) + " announced " + std::to_string(n) +
                " bytes (more than 1 TiB): a corrupted length");
  if (rank_ != root) bytes.resize(n);
  for (std::uint64_t at = 0; at < n; at += kChunk)
    MPI_Bcast(bytes.data() + at, static_cast<int>(std::min<std::uint64_t>(kChunk, n - at)), MPI_UINT8_T, root, MPI_COMM_WORLD);
}

void Communicator::broadcast(std::string& text, int root) const {
  std::vector<std::uint8_t> bytes(text.begin(), text.end());
  broadcast(bytes, root);
  text.assign(bytes.begin(), bytes.end());
}

void Communicator::allreduce_sum(std::span<std::int64_t> v) const { allreduce(v, MPI_SUM); }
void Communicator::allreduce_max(std::span<std::int64_t> v) const { allreduce(v, MPI_MAX); }
void Communicator::allreduce_sum(std::span<float> v) const { allreduce(v, MPI_SUM); }
void Communicator::allreduce_sum(std::span<double> v) const { allreduce(v, MPI_SUM); }

std::vector<float> Communicator::allgather(std::span<const float> mine, std::span<const std::int64_t> counts) const {
  return gather(mine, counts, size_, rank_);
}
std::vector<double> Communicator::allgather(std::span<const double> mine, std::span<const std::int64_t> counts) const {
  return gather(mine, counts, size_, rank_);
}

void Communicator::abort(const std::string& message, int code) const {
  std::cerr << "nnx::distributed: rank " << rank_ << " aborts the job: " << message << std::endl;
  MPI_Abort(MPI_COMM_WORLD, code);
  std::abort();  // MPI_Abort does not return; this keeps [[noreturn]] honest
}

}  // namespace nnx::distributed
