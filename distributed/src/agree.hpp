// An error on some ranks becomes the same error on every rank: never a rank left waiting.
#pragma once

#include <string>

#include "nnx/distributed/communicator.hpp"

namespace nnx::distributed::detail {

// A collective: every rank passes its own error ("" for none). When some rank failed, every rank
// throws CollectiveError "<what> failed on rank R (every rank stops with this error): <R's message>",
// R being the lowest failing rank. One small allreduce when nobody failed.
void throw_if_any(const Communicator& comm, std::string error, const std::string& what);

// The same agreement folded into a larger MPI_MAX the caller makes anyway: failure_slot() is what
// this rank puts into the vector's failure element; throw_if_failed() takes that element after the
// allreduce (then the lowest failing rank's message is broadcast, and every rank throws).
std::int64_t failure_slot(const Communicator& comm, const std::string& error);
void throw_if_failed(const Communicator& comm, std::int64_t reduced_slot, std::string error, const std::string& what);

// Runs `action`, returning its exception's message ("" when it succeeded).
template <class F> std::string error_of(F&& action) {
  try {
    action();
    return {};
  } catch (const std::exception& e) {
    return *e.what() ? e.what() : "an exception without a message";
  }
}

}  // namespace nnx::distributed::detail
