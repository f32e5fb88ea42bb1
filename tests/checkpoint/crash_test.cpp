// The crash test: a child process trains and saves every step (checkpoint_crash_child); it is
// SIGKILLed at a random (seeded) moment; then the directory must hold a restorable latest step at
// least as new as the last step the child reported committed, and nothing half-written may be
// listed. The child restarts on the same directory every round, so resuming is tested too.
//
// NNX_CRASH_ROUNDS=N runs N rounds per mode (sync, async) instead of 25.
#include <doctest/doctest.h>

#include <cstdlib>
#include <random>
#include <sstream>

#include "subprocess.hpp"
#include "fixtures.hpp"

using namespace checkpoint_test;

namespace {

// As in crash_child.cpp.
const nnx::models::MLPConfig kChildConfig{.in = 16, .hidden = {256, 256}, .out = 4, .dropout = 0.1};

nnx::models::MLP child_model() {
  nnx::Rngs rngs({{"params", 0}, {"dropout", 1}});
  return nnx::models::MLP(kChildConfig, rngs);
}

int crash_rounds() {
  if (const char* env = std::getenv("NNX_CRASH_ROUNDS")) {
    const int n = std::atoi(env);
    if (n > 0) return n;
  }
  return 25;
}

// The steps of the complete "committed N" lines, in order.
std::vector<std::int64_t> committed_lines(const std::string& out) {
  std::vector<std::int64_t> steps;
  std::size_t start = 0;
  for (std::size_t nl; (nl = out.find('\n', start)) != std::string::npos; start = nl + 1) {
    const std::string line = out.substr(start, nl - start);
    if (line.rfind("committed ", 0) == 0) steps.push_back(std::stoll(line.substr(10)));
  }
  return steps;
}

void crash_rounds_on(const std::string& mode) {
  TempDir dir("nnx-crash-" + mode);
  const int rounds = crash_rounds();
  std::mt19937 rng(mode == "async" ? 20240602u : 20240601u);  // deterministic kill moments
  std::uniform_int_distribution<int> delay_ms(5, 300);

  // The restore targets: the structure of the child's model and optimizer, without their memory.
  auto abstract = nnx::eval_shape([] { return child_model(); });
  auto [graphdef, model_target] = nnx::split(abstract);
  REQUIRE(model_target.has_abstract());
  nnx::State opt_target;
  {
    auto model = child_model();
    nnx::Optimizer opt(model, nnx::optim::adam(1e-3));
    opt_target = nnx::state(opt).as_abstract();
  }
  const nnx::Array x = nnx::Array::zeros({2, 16}, nnx::DType::float32);

  std::optional<std::int64_t> previous_latest;
  int rounds_with_commits = 0, rounds_interrupting = 0;
  for (int round = 0; round < rounds; ++round) {
    const int delay = delay_ms(rng);
    CAPTURE(round);
    CAPTURE(delay);
    const std::size_t leftovers_before = leftovers(dir.string()).size();
    nnx_test::Finished f;
    {
      nnx_test::Child child({NNX_CRASH_CHILD, dir.string(), "100000000", mode});
      child.pump_for(std::chrono::milliseconds(delay));
      f = child.kill_and_wait(SIGKILL);
    }
    INFO("child stderr: " << f.err);
    CHECK(f.signaled(SIGKILL));  // it died by our hand, not from an error of its own
    CHECK(f.err.empty());
    const std::vector<std::int64_t> lines = committed_lines(f.out);
    for (std::size_t i = 1; i < lines.size(); ++i) CHECK(lines[i] == lines[i - 1] + 1);
    if (!lines.empty()) {
      ++rounds_with_commits;
      CHECK(lines.front() == previous_latest.value_or(0) + 1);  // resumed from the latest step
    }
    rounds_interrupting += leftovers(dir.string()).size() > leftovers_before;

    // A writer may open the directory: the child's lock died with it.
    ckpt::CheckpointManager manager(dir.string());
    const auto latest = manager.latest_step();
    if (!lines.empty()) {
      REQUIRE(latest.has_value());
      CHECK(*latest >= lines.back());
    }
    if (previous_latest) {
      REQUIRE(latest.has_value());
      CHECK(*latest >= *previous_latest);
    }
    for (std::int64_t step : manager.all_steps()) {
      CAPTURE(step);
      const std::string step_dir = manager.step_directory(step);
      CHECK(step_dir.find(".nnx-tmp-") == std::string::npos);
      CHECK(step_dir.find(".nnx-deleting-") == std::string::npos);
      CHECK(fs::exists(fs::path(step_dir) / "_COMMIT"));
      const ckpt::StepMetadata md = manager.metadata(step);
      CHECK(md.step == step);
      REQUIRE(md.items.size() == 2);
      for (const auto& item : md.items) {
        CAPTURE(item.name);
        const ckpt::ArrayFileReader reader(step_dir + "/" + item.file);
        CHECK(reader.file_size() == item.bytes);
        CHECK(reader.verify().empty());  // every checksum of every array
      }
    }
    if (latest) {
      const ckpt::Composite restored =
          manager.restore(latest, ckpt::Composite().add("model", model_target).add("opt", opt_target));
      CHECK_FALSE(restored.state("model").has_abstract());
      CHECK(restored.state("opt").at("step").value.item<std::int64_t>() == *latest);  // one update per step
      auto model = nnx::merge(graphdef, restored.state("model"));
      CHECK(model(x).shape() == nnx::Shape{2, 4});
      // restore_state (no target) sees the same bytes
      CHECK(nnx::state_equal(manager.restore_state(latest, "model"), restored.state("model")));
    }
    previous_latest = latest;
  }  // the manager closes before the next child starts

  MESSAGE(mode << ": " << rounds << " rounds, " << rounds_with_commits << " with commits, " << rounds_interrupting
                << " left an interrupted save behind; latest step " << previous_latest.value_or(-1));
  // The leftovers of interrupted saves are never listed, and cleanup_tmp_directories removes them.
  {
    ckpt::CheckpointManager manager(dir.string(), {.cleanup_tmp_directories = true});
    CHECK(manager.latest_step() == previous_latest);
  }
  CHECK(leftovers(dir.string()).empty());
}

}  // namespace

TEST_CASE("crash: SIGKILL at random moments during synchronous saves leaves latest_step restorable") {
  crash_rounds_on("sync");
}

TEST_CASE("crash: SIGKILL at random moments during async saves leaves latest_step restorable") {
  crash_rounds_on("async");
}
