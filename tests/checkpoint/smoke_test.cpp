#include <doctest/doctest.h>

#include <boost/filesystem.hpp>
#include <nnx/checkpoint.hpp>
#include <nnx/models.hpp>

TEST_CASE("a saved State restores bitwise into an abstract target") {
  const auto dir = boost::filesystem::temp_directory_path() / boost::filesystem::unique_path("nnx-smoke-%%%%%%%%");
  {
    nnx::Rngs rngs(0);
    nnx::models::MLP model({.in = 3, .hidden = {5}, .out = 2}, rngs);
    nnx::checkpoint::CheckpointManager manager(dir.string());
    CHECK(manager.save(1, nnx::state(model)));
    auto [graphdef, target] = nnx::split(nnx::eval_shape([] {
      nnx::Rngs r(0);
      return nnx::models::MLP({.in = 3, .hidden = {5}, .out = 2}, r);
    }));
    CHECK(nnx::state_equal(manager.restore(manager.latest_step(), target), nnx::state(model)));
  }
  boost::filesystem::remove_all(dir);
}
