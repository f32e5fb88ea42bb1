// The crash test: a child process (checkpoint_crash_child) resumes from the latest step, then
// trains and saves every step; a random (seeded) time after it is ready it is SIGKILLed — in every
// other round only once a save has begun, a random 0 to 4 ms into it. Then:
//  * every committed step restores bitwise to the state an uninterrupted run has at that step (the
//    test replays the same training in-process), and nothing half-written is listed;
//  * the latest step is at least the last step the child reported committed, and the next child
//    resumes from it;
//  * the rounds really kill saves: a round "killed a save" when it left a new "<k>.nnx-tmp-..."
//    directory behind — creating it is a save's first act and renaming it into place its last, so
//    the child died inside the save of step k (which must then not be listed: latest == k - 1).
//    At least a quarter of the rounds must kill a save and at least a quarter must commit a step;
//    otherwise the test fails instead of passing vacuously. (Kills while retention deletes an old
//    step leave "<j>.nnx-deleting-..." and are counted apart.)
//
// NNX_CRASH_ROUNDS=N runs N rounds per mode (sync, async) instead of 25.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <set>

#include "crash_training.hpp"
#include "fixtures.hpp"
#include "subprocess.hpp"

using namespace checkpoint_test;

namespace {

int crash_rounds() {
  if (const char* env = std::getenv("NNX_CRASH_ROUNDS")) {
    const int n = std::atoi(env);
    if (n > 0) return n;
  }
  return 25;
}

// The numbers of the complete lines starting with `prefix` ("committed ", "ready "), in order.
std::vector<std::int64_t> numbered_lines(const std::string& out, const std::string& prefix) {
  std::vector<std::int64_t> steps;
  std::size_t start = 0;
  for (std::size_t nl; (nl = out.find('\n', start)) != std::string::npos; start = nl + 1) {
    const std::string line = out.substr(start, nl - start);
    if (line.rfind(prefix, 0) == 0) steps.push_back(std::stoll(line.substr(prefix.size())));
  }
  return steps;
}

// The steps of the leftovers with `marker` (".nnx-tmp-", ".nnx-deleting-") that appeared in
// `dir` since `before` was listed.
std::vector<std::int64_t> new_leftover_steps(const std::string& dir, const std::set<std::string>& before, const char* marker) {
  std::vector<std::int64_t> steps;
  for (const auto& name : leftovers(dir)) {
    const auto at = name.find(marker);
    if (at != std::string::npos && !before.count(name)) steps.push_back(std::stoll(name.substr(0, at)));
  }
  return steps;
}

// Waits (at most `timeout`) until a save's temporary directory appears in `dir` that is not in
// `before`, draining the child's output meanwhile; true when one did.
bool wait_for_a_save(nnx_test::Child& child, const std::string& dir, const std::set<std::string>& before,
                     std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    for (const auto& name : leftovers(dir))
      if (name.find(".nnx-tmp-") != std::string::npos && !before.count(name)) return true;
    child.pump_for(std::chrono::milliseconds(1));
  }
  return false;
}

std::set<std::string> leftover_set(const std::string& dir) {
  const auto names = leftovers(dir);
  return {names.begin(), names.end()};
}

// The model and optimizer States of an uninterrupted run after each step, replayed on demand.
class Reference {
 public:
  struct Step {
    State model, opt;
  };
  const Step& at(std::int64_t step) {
    if (auto it = cache_.find(step); it != cache_.end()) return it->second;
    if (step < trained_) {  // older than anything cached: replay from the start
      trainer_ = std::make_unique<crash_training::Trainer>();
      trained_ = 0;
    }
    while (trained_ < step) {
      trainer_->step();
      ++trained_;
      cache_[trained_] = Step{nnx::state(trainer_->model), nnx::state(trainer_->opt)};  // copy-on-write snapshots
      if (cache_.size() > 8) cache_.erase(cache_.begin());  // retention keeps the newest few steps
    }
    return cache_.at(step);
  }

 private:
  std::unique_ptr<crash_training::Trainer> trainer_ = std::make_unique<crash_training::Trainer>();
  std::int64_t trained_ = 0;
  std::map<std::int64_t, Step> cache_;
};

void crash_rounds_on(const std::string& mode) {
  TempDir dir("nnx-crash-" + mode);
  const int rounds = crash_rounds();
  std::mt19937 rng(mode == "async" ? 20240602u : 20240601u);  // deterministic kill moments
  // From the engine's output (fixed by the standard), not std:: distributions (not fixed).
  auto delay_ms = [](std::mt19937& r) { return 5 + static_cast<int>(r() % 246); };    // [5, 250]
  auto into_save_ms = [](std::mt19937& r) { return static_cast<int>(r() % 5); };     // [0, 4]

  // The restore targets: the structure of the child's model and optimizer, without their memory.
  auto abstract = nnx::eval_shape([] { return crash_training::make_model(); });
  auto [graphdef, model_target] = nnx::split(abstract);
  REQUIRE(model_target.has_abstract());
  const State opt_target = nnx::state(crash_training::Trainer().opt).as_abstract();
  const nnx::Array x = nnx::Array::zeros({2, 16}, nnx::DType::float32);
  Reference reference;

  std::optional<std::int64_t> previous_latest;
  int rounds_with_commits = 0, rounds_killing_a_write = 0, rounds_killing_a_deletion = 0;
  for (int round = 0; round < rounds; ++round) {
    // Every other round is aimed: after the delay it waits for the next save to begin, then kills
    // 0 to 4 ms into it. The other rounds kill at whatever the child is doing after the delay.
    const bool aimed = round % 2 == 1;
    const int delay = delay_ms(rng), into_save = into_save_ms(rng);
    CAPTURE(round);
    CAPTURE(aimed);
    CAPTURE(delay);
    const std::set<std::string> leftovers_before = leftover_set(dir.string());
    nnx_test::Finished f;
    bool ready = false;
    {
      nnx_test::Child child({NNX_CRASH_CHILD, dir.string(), "100000000", mode});
      ready = child.pump_until("ready ", std::chrono::seconds(60));  // the delay counts from here
      child.pump_for(std::chrono::milliseconds(delay));
      if (aimed && wait_for_a_save(child, dir.string(), leftovers_before, std::chrono::seconds(5)))
        child.pump_for(std::chrono::milliseconds(into_save));
      f = child.kill_and_wait(SIGKILL);
    }
    INFO("child stdout: " << f.out.substr(0, 200));
    INFO("child stderr: " << f.err);
    REQUIRE(ready);
    CHECK(f.signaled(SIGKILL));  // it died by our hand, not from an error of its own
    CHECK(f.err.empty());
    CHECK(numbered_lines(f.out, "ready ") == Steps{previous_latest.value_or(0)});  // resumed from the latest step
    const std::vector<std::int64_t> lines = numbered_lines(f.out, "committed ");
    for (std::size_t i = 0; i < lines.size(); ++i) CHECK(lines[i] == previous_latest.value_or(0) + 1 + static_cast<std::int64_t>(i));
    rounds_with_commits += !lines.empty();

    // A writer may open the directory: the child's lock died with it.
    ckpt::CheckpointManager manager(dir.string());
    const auto latest = manager.latest_step();
    if (!lines.empty()) {
      REQUIRE(latest.has_value());
      CHECK(*latest >= lines.back());
    }
    CHECK(latest.value_or(0) >= previous_latest.value_or(0));
    const auto killed_writes = new_leftover_steps(dir.string(), leftovers_before, ".nnx-tmp-");
    const auto killed_deletions = new_leftover_steps(dir.string(), leftovers_before, ".nnx-deleting-");
    CHECK(killed_writes.size() + killed_deletions.size() <= 1);  // one save at a time
    for (std::int64_t k : killed_writes) CHECK(latest.value_or(0) == k - 1);  // step k was not committed
    for (std::int64_t k : killed_deletions) CHECK(k < latest.value_or(0));     // only after a newer commit
    rounds_killing_a_write += !killed_writes.empty();
    rounds_killing_a_deletion += !killed_deletions.empty();

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
      const Reference::Step& expected = reference.at(step);  // bitwise, as an uninterrupted run
      CHECK(nnx::state_equal(manager.restore_state(step, "model"), expected.model));
      CHECK(nnx::state_equal(manager.restore_state(step, "opt"), expected.opt));
    }
    if (latest) {  // into abstract targets, as a resuming program does
      const ckpt::Composite restored =
          manager.restore(latest, ckpt::Composite().add("model", model_target).add("opt", opt_target));
      CHECK(nnx::state_equal(restored.state("model"), reference.at(*latest).model));
      CHECK(restored.state("opt").at("step").value.item<std::int64_t>() == *latest);  // one update per step
      auto model = nnx::merge(graphdef, restored.state("model"));
      CHECK(model(x).shape() == nnx::Shape{2, 4});
    }
    previous_latest = latest;
  }  // the manager closes before the next child starts

  MESSAGE(mode << ": " << rounds << " rounds, " << rounds_with_commits << " committed a step, " << rounds_killing_a_write
                << " killed a save while it wrote, " << rounds_killing_a_deletion << " while it deleted an old step; latest step "
                << previous_latest.value_or(-1));
  const int quarter = std::max(1, rounds / 4);
  CHECK_MESSAGE(rounds_killing_a_write >= quarter, "too few kills landed inside a save: the test would pass vacuously");
  CHECK_MESSAGE(rounds_with_commits >= quarter, "too few rounds committed a step: the test would pass vacuously");
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
