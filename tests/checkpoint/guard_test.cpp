// The readers' promise: only CheckpointError (or StructureError, for a target that does not fit)
// leaves a read; std::bad_alloc and every other exception become a CheckpointError naming the file.
#include <doctest/doctest.h>

#include <functional>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "fixtures.hpp"
#include "guard.hpp"

using namespace checkpoint_test;

TEST_CASE("guard_read turns every foreign exception into a CheckpointError naming what was read") {
  struct Case {
    const char* thrown;
    std::function<void()> raise;
    ckpt::ErrorCode code;
    const char* says;
  };
  const std::vector<Case> cases = {
      {"std::bad_alloc", [] { throw std::bad_alloc(); }, ckpt::ErrorCode::io, "out of memory"},
      {"std::length_error", [] { throw std::length_error("vector::reserve"); }, ckpt::ErrorCode::corrupted, "vector::reserve"},
      {"std::out_of_range", [] { throw std::out_of_range("map::at"); }, ckpt::ErrorCode::corrupted, "map::at"},
      {"nnx::Error", [] { throw nnx::Error("bad path key"); }, ckpt::ErrorCode::corrupted, "bad path key"},
      {"CheckpointError", [] { throw ckpt::CheckpointError(ckpt::ErrorCode::truncated, "short"); }, ckpt::ErrorCode::truncated,
       "short"},
  };
  for (const Case& c : cases) {
    INFO(c.thrown);
    const auto e = expect_checkpoint_error([&] { ckpt::guard_read("'dir/400/model.nnxa'", c.raise); });
    CHECK(e.code() == c.code);
    CHECK_CONTAINS(e.what(), c.says);
    if (std::string(c.thrown) != "CheckpointError") CHECK_CONTAINS(e.what(), "'dir/400/model.nnxa'");
  }
  // A target that does not fit stays a StructureError (it lists the differences); a value passes.
  CHECK_THROWS_AS(ckpt::guard_read("x", [] { throw nnx::StructureError("restore", {}); }), nnx::StructureError);
  CHECK(ckpt::guard_read("x", [] { return 42; }) == 42);
}
