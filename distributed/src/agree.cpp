#include "agree.hpp"

#include <vector>

#include "nnx/error.hpp"

namespace nnx::distributed::detail {

void throw_if_any(const Communicator& comm, std::string error, const std::string& what) {
  std::vector<std::int64_t> failed{error.empty() ? 0 : comm.size() - comm.rank()};
  comm.allreduce_max(failed);
  if (failed[0] == 0) return;
  const int root = static_cast<int>(comm.size() - failed[0]);
  comm.broadcast(error, root);
  throw CollectiveError(what + " failed on rank " + std::to_string(root) + " (every rank stops with this error): " + error);
}

}  // namespace nnx::distributed::detail
