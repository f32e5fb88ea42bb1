// The directory layout of a checkpoint: step directory names, leftovers of interrupted saves and
// deletions, step directories that were never committed.
#include <doctest/doctest.h>

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "fixtures.hpp"

using namespace checkpoint_test;

TEST_CASE("step_prefix and step_format_fixed_length name the directories") {
  TempDir dir("nnx-manager");
  const ckpt::Options options{.step_prefix = "step", .step_format_fixed_length = 8};
  CHECK(ckpt::step_name(400, options) == "step_00000400");
  CHECK(ckpt::step_name(123456789, options) == "step_123456789");  // longer than the width: not cut
  CHECK(ckpt::step_name(7, {}) == "7");
  CHECK(ckpt::step_name(7, {.step_format_fixed_length = 3}) == "007");
  CHECK(expect_checkpoint_error([&] { (void)ckpt::step_name(-1, {}); }).code() == ckpt::ErrorCode::usage);

  struct Parse {
    const char* name;
    std::optional<std::int64_t> step;
  };
  for (const Parse& p : {Parse{"step_00000400", 400}, Parse{"step_400", 400}, Parse{"step_0", 0}, Parse{"400", std::nullopt},
                         Parse{"step_", std::nullopt}, Parse{"step_12a", std::nullopt}, Parse{"steps_12", std::nullopt},
                         Parse{"step_00000400.nnx-tmp-12-0", std::nullopt}, Parse{"step_-1", std::nullopt},
                         Parse{"step_1234567890123456789", std::nullopt}}) {
    CAPTURE(std::string(p.name));
    CHECK(ckpt::parse_step_name(p.name, options) == p.step);
  }
  CHECK(ckpt::parse_step_name("42", {}) == 42);
  CHECK(ckpt::parse_step_name("step_42", {}) == std::nullopt);
  CHECK(ckpt::parse_step_name("42.nnx-tmp-1-0", {}) == std::nullopt);
  CHECK(ckpt::parse_step_name(".nnx-writer.lock", {}) == std::nullopt);

  {
    ckpt::CheckpointManager manager(dir.string(), options);
    manager.save(400, hand_state());
    manager.save(1200, hand_state(1.0));
    CHECK(manager.step_directory(400) == dir.file("step_00000400"));
    CHECK(manager.all_steps() == Steps{400, 1200});
  }
  CHECK(fs::is_directory(dir.path() / "step_00000400"));
  CHECK(fs::is_directory(dir.path() / "step_00001200"));
  // A manager without the prefix does not take these directories for steps.
  ckpt::CheckpointManager plain(dir.string(), {.read_only = true});
  CHECK(plain.all_steps().empty());
  ckpt::CheckpointManager prefixed(dir.string(), {.step_prefix = "step", .read_only = true});
  CHECK(prefixed.all_steps() == Steps{400, 1200});
  CHECK(nnx::state_equal(prefixed.restore_state(400), hand_state()));
}

TEST_CASE("leftovers of interrupted saves are ignored, and removed only with cleanup_tmp_directories") {
  TempDir dir("nnx-manager");
  {
    ckpt::CheckpointManager manager(dir.string());
    manager.save(1, hand_state());
    manager.save(2, hand_state(2.0));
  }
  fs::create_directories(dir.path() / "3.nnx-tmp-999-0");  // a save killed before its rename
  fs::copy_file(dir.path() / "2" / "default.nnxa", dir.path() / "3.nnx-tmp-999-0" / "default.nnxa");
  fs::create_directories(dir.path() / "1.nnx-deleting-999-1");  // a deletion killed half-way
  fs::create_directories(dir.path() / "4");                      // a step directory never committed
  fs::copy_file(dir.path() / "2" / "default.nnxa", dir.path() / "4" / "default.nnxa");
  fs::copy_file(dir.path() / "2" / "_METADATA.json", dir.path() / "4" / "_METADATA.json");
  const std::set<std::string> leftovers = {"3.nnx-tmp-999-0", "1.nnx-deleting-999-1", "4"};

  {
    ckpt::CheckpointManager manager(dir.string(), {.max_to_keep = 1});
    CHECK(manager.all_steps() == Steps{1, 2});
    CHECK(manager.latest_step() == 2);
    manager.save(5, hand_state(5.0));  // retention deletes 1 and 2, never what it did not commit
    CHECK(manager.all_steps() == Steps{5});
  }
  std::set<std::string> names = entries(dir);
  for (const auto& l : leftovers) CHECK(names.count(l) == 1);
  CHECK(names.count("1") == 0);
  CHECK(names.count("2") == 0);

  { ckpt::CheckpointManager reader(dir.string(), {.cleanup_tmp_directories = true, .read_only = true}); }
  CHECK(entries(dir) == names);  // a reader never deletes

  {
    ckpt::CheckpointManager manager(dir.string(), {.cleanup_tmp_directories = true});
    CHECK(manager.all_steps() == Steps{5});
  }
  names = entries(dir);
  CHECK(names.count("3.nnx-tmp-999-0") == 0);
  CHECK(names.count("1.nnx-deleting-999-1") == 0);
  CHECK(names.count("4") == 0);  // a step directory never committed: removed too (it would block saving step 4)
  CHECK(names.count("5") == 1);
}

TEST_CASE("a step directory without _COMMIT is not listed, whatever else the directory holds") {
  TempDir dir("nnx-manager");
  fs::create_directories(dir.path() / "7");  // the only step-like entry: uncommitted
  {
    ckpt::CheckpointManager manager(dir.string());
    CHECK(manager.all_steps().empty());
    manager.reload();
    CHECK(manager.all_steps().empty());
  }
  ckpt::CheckpointManager reader(dir.string(), {.read_only = true});
  CHECK(reader.all_steps().empty());
  CHECK(fs::is_directory(dir.path() / "7"));
}

TEST_CASE("a copy of a step under another name is not that step, and one step is never listed twice") {
  TempDir dir("nnx-step-names");
  {
    ckpt::CheckpointManager manager(dir.string());
    manager.save(200, hand_state(2.0));
    manager.save(400, hand_state(4.0));
  }
  for (const char* name : {"00400", "999999999999999999"}) {
    fs::create_directory(dir.path() / name);
    for (const auto& f : fs::directory_iterator(dir.path() / "400")) fs::copy_file(f.path(), dir.path() / name / f.path().filename());
  }
  fs::create_directory(dir.path() / "600");  // never committed
  ckpt::CheckpointManager manager(dir.string(), {.read_only = true});
  CHECK(manager.all_steps() == Steps{200, 400});  // neither 400 twice nor the copy as the latest
  CHECK(manager.latest_step() == 400);
  CHECK(manager.step_directory(400) == dir.file("400"));
  // Each directory not listed is reported with its reason.
  const auto damaged = manager.damaged_steps();
  REQUIRE(damaged.size() == 3);
  CHECK(damaged[0].name == "00400");
  CHECK_CONTAINS(damaged[0].reason, "'400' holds step 400 too");
  CHECK(damaged[1].name == "600");
  CHECK_CONTAINS(damaged[1].reason, "cleanup_tmp_directories");
  CHECK(damaged[2].name == "999999999999999999");
  CHECK_CONTAINS(damaged[2].reason, "records step 400");
  for (const auto& d : damaged) CHECK_FALSE(d.listed);
}

TEST_CASE("a committed step with unreadable metadata is listed as damaged, and the scan, saving and retention go on") {
  TempDir dir("nnx-damaged-listed");
  {
    ckpt::CheckpointManager manager(dir.string());
    for (std::int64_t step : {100, 200}) manager.save(step, hand_state(static_cast<double>(step)));
  }
  std::ofstream(dir.path() / "100" / "_METADATA.json", std::ios::trunc) << std::string(200000, '[');
  ckpt::CheckpointManager manager(dir.string(), {.max_to_keep = 2});
  CHECK(manager.all_steps() == Steps{100, 200});
  const auto damaged = manager.damaged_steps();
  REQUIRE(damaged.size() == 1);
  CHECK(damaged[0].name == "100");
  CHECK(damaged[0].listed);
  CHECK_CONTAINS(damaged[0].reason, "_METADATA.json");
  manager.save(300, hand_state(3.0));  // retention deletes the damaged oldest step; nothing throws
  CHECK(manager.all_steps() == Steps{200, 300});
  manager.reload();
  CHECK(manager.damaged_steps().empty());
}
