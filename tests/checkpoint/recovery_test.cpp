// A way past damage: verify a step, find the latest intact one, fall back to it on restore, set a
// damaged step aside, and save again where an interrupted step directory lies.
#include <doctest/doctest.h>

#include <atomic>
#include <thread>

#include "fixtures.hpp"

using namespace checkpoint_test;

namespace {
void save_three(const TempDir& dir) {
  ckpt::CheckpointManager manager(dir.string());
  for (std::int64_t step : {1, 2, 3}) manager.save(step, hand_state(static_cast<double>(step)));
}
}  // namespace

TEST_CASE("verify and latest_intact_step find the newest step whose every checksum matches") {
  TempDir dir("nnx-recovery");
  save_three(dir);
  flip_byte(dir.file("3/default.nnxa"), nnx::Path{"layers", 0, "w"});
  ckpt::CheckpointManager manager(dir.string(), {.read_only = true});
  CHECK(manager.verify(2).ok());
  CHECK(manager.verify(2).arrays == 4);
  const ckpt::StepCheck damaged = manager.verify(3);
  REQUIRE_FALSE(damaged.ok());
  CHECK_CONTAINS(damaged.problems.front(), "layers/0/w");
  CHECK(manager.latest_intact_step() == 2);
  CHECK(manager.latest_step() == 3);  // still listed: damage is reported, not hidden
}

TEST_CASE("restore falls back past a damaged latest step only when asked, and never for a wrong target") {
  TempDir dir("nnx-recovery");
  save_three(dir);
  flip_byte(dir.file("3/default.nnxa"), nnx::Path{"layers", 0, "w"});
  ckpt::CheckpointManager manager(dir.string());
  const State target = hand_state().as_abstract();
  CHECK(expect_checkpoint_error([&] { (void)manager.restore(target); }).code() == ckpt::ErrorCode::corrupted);
  CHECK(nnx::state_equal(manager.restore(std::nullopt, target, {.fall_back_to_intact = true}), hand_state(2.0)));
  // An explicit step is restored or refused, never swapped for another.
  CHECK_THROWS_AS((void)manager.restore(3, target, {.fall_back_to_intact = true}), ckpt::CheckpointError);
  // A target that does not fit is the caller's mistake: no fallback hides it.
  State wrong = target;
  wrong.erase(Path{"step"});
  CHECK_THROWS_AS((void)manager.restore(std::nullopt, wrong, {.fall_back_to_intact = true}), nnx::StructureError);

  // Set aside: kept on disk under a name that is never listed; the number can be saved again.
  const std::string aside = manager.set_aside(3);
  CHECK(fs::is_directory(aside));
  CHECK(manager.all_steps() == Steps{1, 2});
  manager.save(3, hand_state(3.5));
  CHECK(nnx::state_equal(manager.restore(target), hand_state(3.5)));
  manager.close();
  ckpt::CheckpointManager cleaner(dir.string(), {.cleanup_tmp_directories = true});
  CHECK(cleaner.all_steps() == Steps{1, 2, 3});
  CHECK(fs::is_directory(aside));  // set-aside steps are data: no cleanup removes them
}

TEST_CASE("an impossible item name in a step's metadata is damage naming the file, so restore falls back past it") {
  // Found by fuzz_step_dir: the name check of saving threw a usage error without the file, and a
  // usage error stops the fallback. A format-1 step: no manifest refuses the edited file first.
  TempDir dir("nnx-recovery");
  save_three(dir);
  make_format_1(dir.file("3"), 3);
  std::string metadata = read_bytes(dir.file("3/_METADATA.json"));
  const std::string name = "\"name\": \"default\"";
  REQUIRE(metadata.find(name) != std::string::npos);
  metadata.replace(metadata.find(name), name.size(), "\"name\": \"de fault\"");
  std::ofstream(dir.file("3/_METADATA.json"), std::ios::trunc) << metadata;
  const ckpt::CheckpointManager manager(dir.string(), {.read_only = true});
  const ckpt::CheckpointError e = expect_checkpoint_error([&] { (void)manager.metadata(3); });
  CHECK(e.code() == ckpt::ErrorCode::corrupted);
  CHECK_CONTAINS(e.what(), dir.file("3/_METADATA.json"));
  CHECK_CONTAINS(e.what(), "'de fault' is not allowed");
  CHECK(nnx::state_equal(manager.restore(std::nullopt, hand_state().as_abstract(), {.fall_back_to_intact = true}), hand_state(2.0)));
}

TEST_CASE("a step directory without _COMMIT: saving there says what to do, cleanup_tmp_directories removes it") {
  TempDir dir("nnx-recovery");
  save_three(dir);
  fs::remove(dir.path() / "3" / "_COMMIT");  // an interrupted or damaged step: never listed
  {
    ckpt::CheckpointManager manager(dir.string());
    CHECK(manager.all_steps() == Steps{1, 2});
    const auto e = expect_checkpoint_error([&] { manager.save(3, hand_state()); });
    CHECK_CONTAINS(e.what(), "is not a committed step");
    CHECK_CONTAINS(e.what(), "cleanup_tmp_directories");
  }
  ckpt::CheckpointManager manager(dir.string(), {.cleanup_tmp_directories = true});
  CHECK_FALSE(fs::exists(dir.path() / "3"));
  manager.save(3, hand_state(3.0));
  CHECK(manager.all_steps() == Steps{1, 2, 3});
}

TEST_CASE("readers never report false damage while the writer's retention deletes steps") {
  TempDir dir("nnx-recovery-race");
  ckpt::CheckpointManager writer(dir.string(), {.max_to_keep = 2});
  writer.save(0, hand_state(0.0));
  const ckpt::CheckpointManager stale_reader(dir.string(), {.read_only = true});  // lists step 0, soon deleted
  std::atomic<bool> done{false};
  std::atomic<int> deleted{0};
  std::thread saving([&] {  // at least 150 saves, and on until a verification has met a deleted step
    for (std::int64_t step = 1; step <= 150 || (deleted == 0 && step <= 5000); ++step)
      writer.save(step, hand_state(static_cast<double>(step)));
    done = true;
  });
  int restores = 0, stale = 0, checks = 0;
  const State target = hand_state().as_abstract();
  while (!done) {
    // A reader whose listing went stale long ago: its latest step was deleted by retention.
    CHECK(stale_reader.restore(target).at("step").value.item<std::int64_t>() == 1234);  // re-listed, never fails
    ++restores;
    stale += !stale_reader.is_committed(*stale_reader.latest_step());
    ckpt::CheckpointManager reader(dir.string(), {.read_only = true});  // a fresh listing, soon stale too
    for (std::int64_t s : reader.all_steps()) {
      const ckpt::StepCheck c = reader.verify(s);
      CHECK_MESSAGE((c.ok() || c.deleted), "step ", s, ": ", (c.problems.empty() ? "" : c.problems.front()));
      ++checks;
      deleted += c.deleted ? 1 : 0;
    }
  }
  saving.join();
  MESSAGE(restores << " restores (" << stale << " with a deleted latest step), " << checks << " verifications (" << deleted.load()
                    << " of deleted steps)");
  CHECK(restores > 10);
  CHECK(stale > 0);    // restores really met a deleted latest step
  CHECK(deleted > 0);  // verifications really met steps deleted under them
}
