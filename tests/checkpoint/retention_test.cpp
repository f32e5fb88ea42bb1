// Retention policies of CheckpointManager: max_to_keep, keep_period, best_fn, steps without
// metrics, keep_time_interval; the latest step survives; deletion only after a commit.
#include <doctest/doctest.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "fixtures.hpp"

using namespace checkpoint_test;

namespace {

State tiny(std::int64_t step) {
  State s;
  s.set(Path{"w"}, nnx::Param(Array::full({4}, DType::float32, static_cast<double>(step))));
  return s;
}

std::set<std::string> expected_entries(const Steps& steps) {
  std::set<std::string> names = {".nnx-writer.lock"};
  for (auto s : steps) names.insert(std::to_string(s));
  return names;
}

// Each kept step still restores to what was saved under it.
void check_restorable(const ckpt::CheckpointManager& manager) {
  for (std::int64_t step : manager.all_steps()) {
    CAPTURE(step);
    CHECK(nnx::state_equal(manager.restore(step, tiny(0).as_abstract()), tiny(step)));
  }
}

double loss(const ckpt::Metrics& m) { return m.at("loss"); }

}  // namespace

TEST_CASE("max_to_keep keeps the N most recent steps, on disk too") {
  struct Case {
    int max_to_keep;
    Steps saved, kept;
  };
  for (const Case& c : {Case{1, {1, 2, 3}, {3}}, Case{3, {1, 2, 3, 4, 5, 6}, {4, 5, 6}},
                        Case{2, {0, 10, 20, 30, 40}, {30, 40}}, Case{5, {1, 2}, {1, 2}}}) {
    CAPTURE(c.max_to_keep);
    TempDir dir("nnx-retention");
    ckpt::CheckpointManager manager(dir.string(), {.max_to_keep = c.max_to_keep});
    for (auto step : c.saved) {
      REQUIRE(manager.save(step, tiny(step)));
      CHECK(manager.all_steps().size() <= static_cast<std::size_t>(c.max_to_keep));
      CHECK(manager.latest_step() == step);
    }
    CHECK(manager.all_steps() == c.kept);
    CHECK(entries(dir) == expected_entries(c.kept));  // no leftovers of deletion either
    check_restorable(manager);
    manager.reload();
    CHECK(manager.all_steps() == c.kept);
  }
}

TEST_CASE("retention applies to the steps an earlier manager saved") {
  TempDir dir("nnx-retention");
  {
    ckpt::CheckpointManager first(dir.string());
    for (std::int64_t step = 1; step <= 5; ++step) first.save(step, tiny(step));
  }
  ckpt::CheckpointManager manager(dir.string(), {.max_to_keep = 2});
  CHECK(manager.all_steps() == Steps{1, 2, 3, 4, 5});  // nothing is deleted at start
  manager.save(6, tiny(6));
  CHECK(manager.all_steps() == Steps{5, 6});
  CHECK(entries(dir) == expected_entries({5, 6}));
}

TEST_CASE("keep_period keeps multiples of the period forever") {
  TempDir dir("nnx-retention");
  ckpt::CheckpointManager manager(dir.string(), {.max_to_keep = 2, .keep_period = 4});
  for (std::int64_t step = 1; step <= 13; ++step) manager.save(step, tiny(step));
  CHECK(manager.all_steps() == Steps{4, 8, 12, 13});
  CHECK(entries(dir) == expected_entries({4, 8, 12, 13}));
  check_restorable(manager);
}

TEST_CASE("best_fn or best_metric with best_mode keeps the best N by metric, plus the latest") {
  struct Case {
    const char* name;
    ckpt::BestMode mode;
    Steps kept;
    std::int64_t best;
  };
  const std::map<std::int64_t, double> losses = {{1, 0.5}, {2, 0.2}, {3, 0.9}, {4, 0.1}, {5, 0.8}};
  for (const bool by_name : {false, true})
    for (const Case& c : {Case{"min", ckpt::BestMode::min, {2, 4, 5}, 4}, Case{"max", ckpt::BestMode::max, {3, 5}, 3}}) {
      CAPTURE(std::string(c.name));
      CAPTURE(by_name);
      TempDir dir("nnx-retention");
      ckpt::Options options{.max_to_keep = 2, .best_mode = c.mode};
      if (by_name) options.best_metric = "loss";
      else options.best_fn = loss;
      ckpt::CheckpointManager manager(dir.string(), options);
      for (const auto& [step, value] : losses) REQUIRE(manager.save(step, tiny(step), {{"loss", value}, {"other", -value}}));
      CHECK(manager.all_steps() == c.kept);
      CHECK(manager.best_step() == c.best);
      CHECK(manager.latest_step() == 5);
      std::set<std::string> expected = expected_entries(c.kept);
      if (by_name) expected.insert("_ROOT_METADATA");  // the recorded policy; best_fn cannot be recorded
      CHECK(entries(dir) == expected);
      check_restorable(manager);
      // Metrics come back from disk: a new manager ranks the same way.
      ckpt::CheckpointManager reader(dir.string(), {.best_fn = loss, .best_mode = c.mode, .read_only = true});
      CHECK(reader.best_step() == c.best);
      CHECK(reader.metadata(c.best).metrics.at("loss") == losses.at(c.best));
      // A reader told nothing knows the best step only when it was recorded.
      ckpt::CheckpointManager plain(dir.string(), {.read_only = true});
      CHECK(plain.best_step() == (by_name ? std::optional<std::int64_t>(c.best) : std::nullopt));
      CHECK(plain.best_policy() == (by_name ? std::string(c.name) + " loss" : ""));
    }
}

TEST_CASE("the recorded best policy: refused when ambiguous or unrecordable, loud when damaged, never in the way") {
  TempDir dir("nnx-best-policy");
  const auto usage = expect_checkpoint_error([&] { ckpt::CheckpointManager m(dir.string(), {.best_fn = loss, .best_metric = "loss"}); });
  CHECK(usage.code() == ckpt::ErrorCode::usage);
  CHECK_CONTAINS(usage.what(), "not both");
  for (const char* bad : {"a\nb", "tab\there"})
    CHECK_CONTAINS(expect_checkpoint_error([&] { ckpt::CheckpointManager m(dir.string(), {.best_metric = bad}); }).what(),
                   "best_metric must be");
  {
    ckpt::CheckpointManager writer(dir.string(), {.best_metric = "val accuracy", .best_mode = ckpt::BestMode::max});
    for (std::int64_t step : {1, 2, 3}) writer.save(step, tiny(step), {{"val accuracy", step == 2 ? 0.9 : 0.1}});
  }
  CHECK(ckpt::CheckpointManager(dir.string(), {.read_only = true}).best_step() == 2);
  // One changed byte of the record: best_step() says so; listing and restoring go on.
  std::string text;
  {
    std::ifstream in(dir.file("_ROOT_METADATA"));
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  // Every flipped byte of the record is refused (its last line seals it with XXH3).
  for (std::size_t at = 0; at < text.size(); ++at) {
    CAPTURE(at);
    std::string flipped = text;
    flipped[at] = static_cast<char>(flipped[at] ^ 0x01);
    std::ofstream(dir.file("_ROOT_METADATA"), std::ios::trunc) << flipped;
    ckpt::CheckpointManager flipped_reader(dir.string(), {.read_only = true});
    CHECK_THROWS_AS((void)flipped_reader.best_step(), ckpt::CheckpointError);
  }
  REQUIRE(text.find("max") != std::string::npos);
  text.replace(text.find("max"), 3, "min");
  std::ofstream(dir.file("_ROOT_METADATA"), std::ios::trunc) << text;
  ckpt::CheckpointManager reader(dir.string(), {.read_only = true});
  CHECK(reader.all_steps() == Steps{1, 2, 3});
  CHECK_CONTAINS(expect_checkpoint_error([&] { (void)reader.best_step(); }).what(), "_ROOT_METADATA' is damaged");
  // A writer with best_metric records it again.
  ckpt::CheckpointManager writer(dir.string(), {.best_metric = "val accuracy"});
  CHECK(ckpt::CheckpointManager(dir.string(), {.read_only = true}).best_step() == 2);
}

TEST_CASE("the latest step is never deleted, even when it is the worst") {
  TempDir dir("nnx-retention");
  ckpt::CheckpointManager manager(dir.string(), {.max_to_keep = 1, .best_fn = loss, .best_mode = ckpt::BestMode::min});
  manager.save(1, tiny(1), {{"loss", 0.1}});
  for (std::int64_t step = 2; step <= 4; ++step) {
    manager.save(step, tiny(step), {{"loss", 1.0 + static_cast<double>(step)}});  // worse every time
    CHECK(manager.all_steps() == Steps{1, step});
    CHECK(manager.best_step() == 1);
  }
  CHECK(entries(dir) == expected_entries({1, 4}));
}

TEST_CASE("keep_checkpoints_without_metrics decides the fate of steps saved without metrics") {
  struct Case {
    bool keep;
    Steps kept;
  };
  for (const Case& c : {Case{true, {1, 2, 4, 5}}, Case{false, {4, 5}}}) {
    CAPTURE(c.keep);
    TempDir dir("nnx-retention");
    ckpt::CheckpointManager manager(dir.string(), {.max_to_keep = 1,
                                                    .best_fn = loss,
                                                    .best_mode = ckpt::BestMode::min,
                                                    .keep_checkpoints_without_metrics = c.keep});
    manager.save(1, tiny(1));
    manager.save(2, tiny(2));
    manager.save(3, tiny(3), {{"loss", 0.5}});
    manager.save(4, tiny(4), {{"loss", 0.1}});
    manager.save(5, tiny(5), {{"loss", 0.9}});
    CHECK(manager.all_steps() == c.kept);
    CHECK(manager.best_step() == 4);  // steps without metrics are never "best"
    CHECK(entries(dir) == expected_entries(c.kept));
  }
  // Without best_fn there is no best step, metrics or not.
  TempDir dir("nnx-retention");
  ckpt::CheckpointManager plain(dir.string());
  plain.save(1, tiny(1), {{"loss", 0.1}});
  CHECK_FALSE(plain.best_step().has_value());
}

TEST_CASE("keep_time_interval keeps one step per interval of commit time") {
  TempDir dir("nnx-retention");
  std::int64_t now_ms = 1'700'000'000'000;  // a fake clock: commit times are whatever the test says
  ckpt::CheckpointManager manager(
      dir.string(), {.max_to_keep = 1, .keep_time_interval = std::chrono::seconds(1), .clock = [&] { return now_ms; }});
  auto save_at = [&](std::int64_t step, std::int64_t offset_ms) {
    now_ms = 1'700'000'000'000 + offset_ms;
    REQUIRE(manager.save(step, tiny(step)));
    CHECK(manager.metadata(step).created_unix_ms == now_ms);  // the clock's time, on disk
  };
  save_at(1, 0);     // opens the first interval
  save_at(2, 400);   // inside it: deleted once it is not the latest
  save_at(3, 999);   // 1 ms short of the interval: deleted too
  save_at(4, 1000);  // exactly one interval after step 1: opens the second
  save_at(5, 1500);
  save_at(6, 2100);  // 1100 ms after step 4: opens the third; also the latest
  CHECK(manager.all_steps() == Steps{1, 4, 6});
  CHECK(entries(dir) == expected_entries({1, 4, 6}));
  check_restorable(manager);
  // The commit times are read back from disk by any later manager, whatever its clock.
  ckpt::CheckpointManager reopened(dir.string(), {.read_only = true});
  CHECK(reopened.metadata(4).created_unix_ms == 1'700'000'000'000 + 1000);
}

TEST_CASE("an empty clock is refused") {
  TempDir dir("nnx-retention");
  CHECK(expect_checkpoint_error([&] { ckpt::CheckpointManager m(dir.string(), {.clock = {}}); }).code() == ckpt::ErrorCode::usage);
}

TEST_CASE("old steps are deleted only after the new step commits") {
  TempDir dir("nnx-retention");
  ckpt::CheckpointManager manager(dir.string(), {.max_to_keep = 2});
  manager.save(1, tiny(1));
  manager.save(2, tiny(2));
  // A directory in the way of step 3 (say, copied by hand, no _COMMIT): the save fails at its
  // rename, after every file was written — and retention must not have run.
  fs::create_directories(dir.path() / "3");
  const std::set<std::string> before = entries(dir);
  try {
    manager.save(3, tiny(3));
    FAIL("saved over an existing directory");
  } catch (const ckpt::CheckpointError& e) {
    CHECK(e.code() == ckpt::ErrorCode::usage);
    CHECK_CONTAINS(e.what(), dir.file("3"));
  }
  CHECK(manager.all_steps() == Steps{1, 2});
  CHECK(entries(dir) == before);  // steps 1 and 2 intact, the temporary directory removed
  check_restorable(manager);

  // Refused saves (non-finite metric, abstract State) delete nothing either.
  CHECK_THROWS_AS(manager.save(4, tiny(4), {{"loss", std::numeric_limits<double>::quiet_NaN()}}), ckpt::CheckpointError);
  CHECK_THROWS_AS(manager.save(4, tiny(4).as_abstract()), ckpt::CheckpointError);
  CHECK(entries(dir) == before);

  // A successful save then removes the oldest step, and the uncommitted directory stays.
  fs::remove(dir.path() / "3");
  fs::create_directories(dir.path() / "99");  // uncommitted, never listed, never deleted
  manager.save(4, tiny(4));
  CHECK(manager.all_steps() == Steps{2, 4});
  std::set<std::string> want = expected_entries({2, 4});
  want.insert("99");
  CHECK(entries(dir) == want);
}

TEST_CASE("an old step whose metrics best_fn cannot score never stops a save: it is kept like a step without metrics") {
  TempDir dir("nnx-retention-odd");
  const ckpt::Options options{.max_to_keep = 2, .best_fn = [](const ckpt::Metrics& m) { return m.at("val_accuracy"); }};
  {
    ckpt::CheckpointManager manager(dir.string(), options);
    manager.save(1, hand_state(), {{"val_accuracy", 0.9}});
  }
  // One flipped byte in step 1's metadata: the metric best_fn reads is gone. (Format 1: a format-2
  // manifest refuses the edited file outright, and the step then has no metrics at all.)
  make_format_1(dir.file("1"), 1);
  const std::string file = dir.file("1/_METADATA.json");
  std::string text;
  {
    std::ifstream in(file);
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  const auto at = text.find("val_accuracy");
  REQUIRE(at != std::string::npos);
  text[at] = 'w';
  std::ofstream(file, std::ios::trunc) << text;

  ckpt::CheckpointManager manager(dir.string(), options);
  for (std::int64_t step : {2, 3, 4}) CHECK_NOTHROW(manager.save(step, hand_state(), {{"val_accuracy", 0.1 * step}}));
  CHECK(manager.all_steps() == Steps{1, 3, 4});  // step 1 kept (no score), the two best scored steps kept
  CHECK(manager.best_step() == 4);
  // NaN written by hand into a metric is damage when read: that step has no metrics at all.
  make_format_1(dir.file("4"), 4);  // a format-2 manifest would catch the edit before the parser
  std::ifstream in4(dir.file("4/_METADATA.json"));
  const std::string step4(std::istreambuf_iterator<char>(in4), {});
  const std::string nan = std::regex_replace(step4, std::regex("\"val_accuracy\": [0-9.e+-]+"), "\"val_accuracy\": NaN");
  REQUIRE(nan != step4);
  std::ofstream(dir.file("4/_METADATA.json"), std::ios::trunc) << nan;
  CHECK_CONTAINS(expect_checkpoint_error([&] { (void)ckpt::read_step_metadata(dir.file("4")); }).what(), "never writes");
}
