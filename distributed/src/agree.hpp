// An error on some ranks becomes the same error on every rank: never a rank left waiting.
#pragma once

#include <string>

#include "nnx/distributed/communicator.hpp"

namespace nnx::distributed::detail {

// A collective: every rank passes its own error ("" for none). When some rank failed, every rank
// throws CollectiveError "<what> failed on rank R (every rank stops with this error): <R's message>",
// R being the lowest failing rank. One small allreduce when nobody failed.
void throw_if_any(const Communicator& comm, std::string error, const std::string& what);

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
