// Faults while saving (disk full, permission denied) and concurrency (a writer with readers, two
// writers, a save while an async save is pending).
#include <doctest/doctest.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "subprocess.hpp"
#include "fixtures.hpp"

using namespace checkpoint_test;

namespace {

nnx::State fault_state(std::int64_t numel, double value) {
  nnx::State s;
  s.set(nnx::Path{"layers", 0, "kernel"}, nnx::Param(nnx::Array::full({numel}, nnx::DType::float32, value)));
  s.set(nnx::Path{"count"}, nnx::BatchStat(nnx::Array::full({4}, nnx::DType::int64, value)));
  return s;
}

bool is_io(const ckpt::CheckpointError& e) { return e.code() == ckpt::ErrorCode::io; }

// The directory holds exactly `steps`; each restores to `expected` and verifies; nothing is left over.
void check_only(const std::string& dir, const std::vector<std::int64_t>& steps, const nnx::State& expected) {
  ckpt::CheckpointManager reader(dir, {.read_only = true});
  CHECK(reader.all_steps() == steps);
  for (std::int64_t step : steps) {
    CAPTURE(step);
    CHECK(nnx::state_equal(reader.restore(step, expected.as_abstract()), expected));
    CHECK(ckpt::ArrayFileReader(reader.step_directory(step) + "/default.nnxa").verify().empty());
  }
  CHECK(leftovers(dir).empty());
}

// A tmpfs mounted for the lifetime of the object (root only); mounted() false when that failed.
class SmallTmpfs {
 public:
  SmallTmpfs(const std::string& where, const char* size) : where_(where) {
    const std::string options = std::string("size=") + size;
    mounted_ = ::geteuid() == 0 && ::mount("tmpfs", where.c_str(), "tmpfs", 0, options.c_str()) == 0;
  }
  ~SmallTmpfs() {
    if (mounted_ && ::umount(where_.c_str()) != 0) ::umount2(where_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }

 private:
  std::string where_;
  bool mounted_ = false;
};

}  // namespace

TEST_CASE("disk full (a file size limit): the failed save names the file, earlier steps stay intact") {
  // RLIMIT_FSIZE in a forked child: write() fails with EFBIG, for root as for anyone.
  TempDir dir("nnx-fault-fsize");
  const nnx::State small = fault_state(1000, 1.5);
  const nnx::State large = fault_state(1 << 20, 2.5);  // 4 MB
  const nnx_test::Finished child = nnx_test::run_forked([&] {
    nnx_test::Report r;
    const rlimit limit{128 << 10, 128 << 10};
    if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) throw std::runtime_error("setrlimit failed");
    ::signal(SIGXFSZ, SIG_IGN);
    ckpt::CheckpointManager m(dir.string());
    r.add("save1", m.save(1, small) ? "saved" : "skipped");
    try {
      m.save(2, large);
      r.add("save2", "no error");
    } catch (const ckpt::CheckpointError& e) {
      r.add("save2", is_io(e) ? "io" : "other code").add("save2.what", e.what());
    }
    r.add("steps", std::to_string(m.all_steps().size()));
    r.add("save3", m.save(3, small) ? "saved" : "skipped");  // the manager goes on after the failure
    return r.str();
  });
  INFO("child stdout: " << child.out << "\nchild stderr: " << child.err);
  REQUIRE(child.exit_code() == 0);
  auto seen = nnx_test::parse_report(child.out);
  CHECK(seen["save1"] == "saved");
  CHECK(seen["save2"] == "io");
  const std::string& what = seen["save2.what"];
  CHECK(what.find(dir.string() + "/2.nnx-tmp-") != std::string::npos);
  CHECK(what.find("default.nnxa") != std::string::npos);
  CHECK(what.find("earlier steps are intact") != std::string::npos);
  CHECK(seen["steps"] == "1");
  CHECK(seen["save3"] == "saved");
  check_only(dir.string(), {1, 3}, small);
}

TEST_CASE("disk full (a full filesystem): ENOSPC is an io error, nothing of the failed step remains") {
  TempDir dir("nnx-fault-enospc");
  SmallTmpfs fs_1m(dir.string(), "1m");
  if (!fs_1m.mounted()) {
    MESSAGE("skipped: mounting a 1 MB tmpfs needs root and mount permission");
    return;
  }
  const nnx::State small = fault_state(1000, 3.0);
  {
    ckpt::CheckpointManager m(dir.string());
    REQUIRE(m.save(1, small));
    try {
      m.save(2, fault_state(1 << 19, 4.0));  // 2 MB
      FAIL("a save larger than the filesystem must throw");
    } catch (const ckpt::CheckpointError& e) {
      const std::string what = e.what();
      CHECK(is_io(e));
      CHECK(what.find("No space left on device") != std::string::npos);
      CHECK(what.find(dir.string() + "/2.nnx-tmp-") != std::string::npos);
      CHECK(what.find("earlier steps are intact") != std::string::npos);
    }
    CHECK(m.all_steps() == std::vector<std::int64_t>{1});
    REQUIRE(m.save(3, small));  // the failed step's space was given back
  }
  check_only(dir.string(), {1, 3}, small);
}

TEST_CASE("permission denied while saving: an io error naming the directory, earlier steps intact") {
  // As root, chmod does not stop writes: the forked child drops to an unprivileged user after its
  // first save. Otherwise the directory is made read-only.
  TempDir dir("nnx-fault-perm");
  const nnx::State small = fault_state(500, 5.0);
  const bool root = ::geteuid() == 0;
  const nnx_test::Finished child = nnx_test::run_forked([&] {
    nnx_test::Report r;
    ckpt::CheckpointManager m(dir.string());
    m.save(1, small);
    if (root) {
      if (::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0) return r.add("skip", "setresuid").str();
    } else if (::chmod(dir.string().c_str(), 0555) != 0) {
      return r.add("skip", "chmod").str();
    }
    if (::access(dir.string().c_str(), W_OK) == 0) return r.add("skip", "still writable").str();
    try {
      m.save(2, small);
      r.add("save2", "no error");
    } catch (const ckpt::CheckpointError& e) {
      r.add("save2", is_io(e) ? "io" : "other code").add("save2.what", e.what());
    }
    r.add("steps", std::to_string(m.all_steps().size()));
    return r.str();
  });
  ::chmod(dir.string().c_str(), 0755);
  INFO("child stdout: " << child.out << "\nchild stderr: " << child.err);
  REQUIRE(child.exit_code() == 0);
  auto seen = nnx_test::parse_report(child.out);
  if (seen.count("skip")) {
    MESSAGE("skipped: could not make the directory unwritable (" << seen["skip"] << ")");
    return;
  }
  CHECK(seen["save2"] == "io");
  const std::string& what = seen["save2.what"];
  CHECK(what.find("Permission denied") != std::string::npos);
  CHECK(what.find(dir.string() + "/2.nnx-tmp-") != std::string::npos);
  CHECK(what.find("permissions") != std::string::npos);
  CHECK(seen["steps"] == "1");
  check_only(dir.string(), {1}, small);
}

TEST_CASE("a read_only reader reloads and restores while a writer keeps saving: no errors, no torn reads") {
  TempDir dir("nnx-fault-reader");
  constexpr std::int64_t kSteps = 40;
  ckpt::CheckpointManager writer(dir.string());
  ckpt::CheckpointManager reader(dir.string(), {.read_only = true});  // any number of readers
  const nnx::State target = fault_state(50000, 0).as_abstract();
  std::string writer_error;  // read after join
  std::atomic<bool> writer_done{false};
  std::thread thread([&] {
    try {
      for (std::int64_t step = 1; step <= kSteps; ++step) writer.save(step, fault_state(50000, static_cast<double>(step)));
    } catch (const std::exception& e) {
      writer_error = e.what();
    }
    writer_done = true;
  });
  std::vector<std::int64_t> seen;
  std::string reader_error;
  std::size_t torn = 0;
  auto read_latest = [&] {
    reader.reload();
    const auto latest = reader.latest_step();
    if (!latest) return;
    const nnx::State restored = reader.restore(latest, target);
    const float* k = restored.at("layers/0/kernel").value.data<float>();
    for (std::int64_t i = 0; i < 50000; ++i) torn += k[i] != static_cast<float>(*latest);
    torn += restored.at("count").value.data<std::int64_t>()[3] != *latest;
    if (seen.empty() || seen.back() != *latest) seen.push_back(*latest);
  };
  try {
    while (!writer_done) read_latest();
    read_latest();  // once more, after the writer finished
  } catch (const std::exception& e) {
    reader_error = e.what();
  }
  thread.join();
  CHECK(writer_error.empty());
  CHECK(reader_error.empty());
  CHECK(torn == 0);
  REQUIRE_FALSE(seen.empty());
  CHECK(seen.back() == kSteps);
  CHECK(std::is_sorted(seen.begin(), seen.end()));
  MESSAGE("the reader saw " << seen.size() << " distinct latest steps while the writer saved " << kSteps);
}

TEST_CASE("two writers on one directory: the second gets code locked, naming the directory") {
  TempDir dir("nnx-fault-lock");
  ckpt::CheckpointManager first(dir.string());
  REQUIRE(first.save(1, fault_state(10, 1)));
  try {
    ckpt::CheckpointManager second(dir.string());
    FAIL("a second writer must be refused");
  } catch (const ckpt::CheckpointError& e) {
    const std::string what = e.what();
    CHECK(e.code() == ckpt::ErrorCode::locked);
    CHECK(what.find("'" + dir.string() + "'") != std::string::npos);
    CHECK(what.find(std::to_string(::getpid())) != std::string::npos);  // the holder
    CHECK(what.find("read_only") != std::string::npos);                 // the way out
  }
  // Refused from another process too (the lock is an OS lock, not a per-process flag).
  const nnx_test::Finished other = nnx_test::run_forked([&] {
    nnx_test::Report r;
    try {
      ckpt::CheckpointManager second(dir.string());
      r.add("code", "none");
    } catch (const ckpt::CheckpointError& e) {
      r.add("code", e.code() == ckpt::ErrorCode::locked ? "locked" : "other");
    }
    return r.str();
  });
  CHECK(nnx_test::parse_report(other.out)["code"] == "locked");
  ckpt::CheckpointManager reader(dir.string(), {.read_only = true});
  CHECK(reader.all_steps() == std::vector<std::int64_t>{1});
  first.close();
  ckpt::CheckpointManager second(dir.string());  // free once the first is closed
  CHECK(second.save(2, fault_state(10, 2)));
}

TEST_CASE("a save() while an async save is pending waits for it: both steps are committed") {
  TempDir dir("nnx-fault-pending");
  const nnx::State big = fault_state(4 << 20, 6.0);  // 16 MB
  const nnx::State small = fault_state(10, 7.0);
  {
    ckpt::CheckpointManager m(dir.string(), {.enable_async_checkpointing = true});
    REQUIRE(m.save(1, big));
    REQUIRE(m.save(2, small));  // returns only after step 1 is committed
    const auto steps = m.all_steps();
    REQUIRE_FALSE(steps.empty());
    CHECK(steps.front() == 1);
    CHECK(fs::exists(dir.path() / "1" / "_COMMIT"));
    m.wait_until_finished();
    CHECK(m.all_steps() == std::vector<std::int64_t>{1, 2});
    CHECK(nnx::state_equal(m.restore(1, big.as_abstract()), big));
    CHECK(nnx::state_equal(m.restore(2, small.as_abstract()), small));
  }
  CHECK(leftovers(dir.string()).empty());
}
