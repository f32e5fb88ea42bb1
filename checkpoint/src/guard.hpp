// Internal: the promise that a reader's failure is a CheckpointError naming the file. Parsers,
// allocators and the framework may throw other exceptions (std::bad_alloc, std::length_error,
// nnx::Error from a path or kind read from a file); each public reader runs inside guard_read, so
// only CheckpointError (and StructureError: a target that does not fit) ever reaches the caller.
#pragma once

#include <new>
#include <string>
#include <utility>

#include "nnx/checkpoint/error.hpp"

namespace nnx::checkpoint {

// 'path', for messages (built by appending: GCC 12 warns falsely on "'" + path + "'").
inline std::string quoted(const std::string& path) {
  std::string q;
  q.reserve(path.size() + 2);
  q += '\'';
  q += path;
  q += '\'';
  return q;
}

// Runs `read`, turning any exception but CheckpointError and StructureError into a CheckpointError
// that names `what` (e.g. "'run/400/model.nnxa'"): std::bad_alloc becomes ErrorCode::io (the
// machine ran out of memory, the file did not ask for more than its size: docs/reliability.md),
// anything else ErrorCode::corrupted.
template <class Read>
decltype(auto) guard_read(const std::string& what, Read&& read) {
  try {
    return std::forward<Read>(read)();
  } catch (const CheckpointError&) {
    throw;
  } catch (const StructureError&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw CheckpointError(ErrorCode::io, "out of memory while reading " + what +
                                             "; the reader never allocates more than the file's size plus a fixed bound, "
                                             "so free memory and try again");
  } catch (const std::exception& e) {
    throw CheckpointError(ErrorCode::corrupted, "reading " + what + " failed: " + e.what() + "; the file is damaged");
  }
}

}  // namespace nnx::checkpoint
