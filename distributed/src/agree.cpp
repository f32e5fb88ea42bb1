#include "agree.hpp"

#include <vector>

#include "nnx/error.hpp"

namespace nnx::distributed::detail {

std::int64_t failure_slot(const Communicator& comm, const std::string& error) {
  return error.empty() ? 0 : comm.size() - comm.rank();  // MPI_MAX picks the lowest failing rank
}

void throw_if_any(const Communicator& comm, std::string error, const std::string& what) {
  std::vector<std::int64_t> failed{failure_slot(comm, error)};
  comm.allreduce_max(failed);
  throw_if_failed(comm, failed[0], std::move(error), what);
}

void throw_if_failed(const Communicator& comm, std::int64_t reduced_slot, std::string error, const std::string& what) {
  if (reduced_slot == 0) return;
  const int root = static_cast<int>(comm.size() - reduced_slot);
  comm.broadcast(error, root);
  throw CollectiveError(what + " failed on rank " + std::to_string(root) + " (every rank stops with this error): " + error);
}

}  // namespace nnx::distributed::detail
