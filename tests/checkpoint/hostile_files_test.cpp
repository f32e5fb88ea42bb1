// Hostile entries where a checkpoint expects its own files: a symbolic link, FIFO, socket or
// directory in place of the writer lock or of any file of a step (_COMMIT, _METADATA.json, an array
// file, a JSON item), and sparse files claiming huge sizes. Each is refused with a CheckpointError
// naming the path (and what is there); nothing hangs, nothing is allocated beyond what the bytes
// present allow, and nothing outside the directory is touched.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cereal/types/string.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <future>
#include <iterator>
#include <nnx/checkpoint/json.hpp>

#include "fixtures.hpp"

using namespace checkpoint_test;

namespace {

void make_fifo(const std::string& path) {
  boost::system::error_code ec;
  fs::remove(path, ec);
  REQUIRE(::mkfifo(path.c_str(), 0644) == 0);
}

// A unix socket bound at `path` (the socket file stays after its descriptor is closed).
void make_socket(const std::string& path) {
  boost::system::error_code ec;
  fs::remove(path, ec);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  REQUIRE(path.size() < sizeof address.sun_path);
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  const int bound = ::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address);
  ::close(fd);
  REQUIRE(bound == 0);
}

// What can stand where a file is expected, and the words a refusal uses for it.
enum class Special { directory, socket, fifo, device_link };
struct SpecialCase {
  Special kind;
  const char* words;
};
constexpr SpecialCase kSpecials[] = {{Special::directory, "is a directory"},
                                     {Special::socket, "is a socket"},
                                     {Special::fifo, "is a FIFO"},
                                     {Special::device_link, "is a symbolic link"}};

void make_special(const std::string& path, Special kind) {
  boost::system::error_code ec;
  fs::remove_all(path, ec);
  switch (kind) {
    case Special::directory: fs::create_directory(path); break;
    case Special::socket: make_socket(path); break;
    case Special::fifo: make_fifo(path); break;
    case Special::device_link: fs::create_symlink("/dev/zero", path); break;  // endless bytes if followed
  }
}

// Waits up to 10 s for `done`, a call that may block opening the FIFO `fifo`. When it is still
// blocked, the test fails, and the FIFO's writing end is opened again and again (each open releases
// a reader blocked in open) for up to 30 s; a call still blocked then ends the process, so that a
// regression fails ctest instead of hanging it.
template <class T> T finish_or_release(std::future<T>& done, const std::string& fifo) {
  if (done.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
    FAIL_CHECK("still blocked after 10 s on '" << fifo << "'");
    for (int i = 0; i < 300 && done.wait_for(std::chrono::milliseconds(100)) != std::future_status::ready; ++i) {
      const int fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
      if (fd >= 0) ::close(fd);
    }
    if (done.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
      std::fprintf(stderr, "hostile_files_test: a reader stays blocked on '%s'; giving up\n", fifo.c_str());
      std::_Exit(1);
    }
  }
  return done.get();
}

// Runs `f`, which must throw a CheckpointError, under the watchdog above.
template <class F> ckpt::CheckpointError refused_promptly(F f, const std::string& fifo) {
  auto done = std::async(std::launch::async, [&] { return expect_checkpoint_error(f); });
  return finish_or_release(done, fifo);
}

// A directory with committed step 1: the default item (default.nnxa) and a JSON item (config.json).
struct SavedStep {
  TempDir dir{"nnx-hostile"};
  SavedStep() {
    ckpt::CheckpointManager m(dir.string());
    m.save(1, ckpt::Composite().add(ckpt::kDefaultItem, hand_state()).add_json("config", std::string("lr=0.1")));
    m.wait_until_finished();
  }
  std::string file(const std::string& name) const { return (dir.path() / "1" / name).string(); }
};

}  // namespace

TEST_CASE("the writer lock: a symbolic link to a file outside is refused, and that file is untouched") {
  TempDir dir{"nnx-hostile"}, outside{"nnx-outside"};
  const std::string victim = outside.file("precious.txt");
  { std::ofstream(victim) << "do not truncate me"; }
  fs::create_symlink(victim, dir.path() / ".nnx-writer.lock");
  const ckpt::CheckpointError e = expect_checkpoint_error([&] { ckpt::CheckpointManager m(dir.string()); });
  CHECK_CONTAINS(e.what(), ".nnx-writer.lock");
  CHECK_CONTAINS(e.what(), "symbolic link");
  CHECK_CONTAINS(e.what(), "remove it");
  CHECK(read_bytes(victim) == "do not truncate me");
  // A read-only manager takes no lock: it opens the directory as before.
  CHECK_NOTHROW(ckpt::CheckpointManager(dir.string(), {.read_only = true}));
}

TEST_CASE("the writer lock: a dangling symbolic link creates nothing at its target") {
  TempDir dir{"nnx-hostile"}, outside{"nnx-outside"};
  const std::string target = outside.file("created-by-the-lock");
  fs::create_symlink(target, dir.path() / ".nnx-writer.lock");
  const ckpt::CheckpointError e = expect_checkpoint_error([&] { ckpt::CheckpointManager m(dir.string()); });
  CHECK_CONTAINS(e.what(), "symbolic link");
  CHECK_FALSE(fs::exists(target));
}

TEST_CASE("the writer lock: a FIFO, a directory or a socket in its place is refused, without blocking") {
  TempDir dir{"nnx-hostile"};
  const std::string lock = dir.file(".nnx-writer.lock");
  make_fifo(lock);
  CHECK_CONTAINS(refused_promptly([&] { ckpt::CheckpointManager m(dir.string()); }, lock).what(), "FIFO");
  fs::remove(lock);
  fs::create_directory(lock);
  CHECK_CONTAINS(expect_checkpoint_error([&] { ckpt::CheckpointManager m(dir.string()); }).what(), "a directory");
  fs::remove(lock);
  make_socket(lock);
  const ckpt::CheckpointError socket = expect_checkpoint_error([&] { ckpt::CheckpointManager m(dir.string()); });
  CHECK_CONTAINS(socket.what(), lock);
  CHECK_CONTAINS(socket.what(), "a socket");
  fs::remove(lock);
  CHECK_NOTHROW(ckpt::CheckpointManager(dir.string()));  // once removed, the directory opens again
}

TEST_CASE("a FIFO in place of an array file is refused by restore and verify, without blocking") {
  SavedStep saved;
  const std::string array = saved.file("default.nnxa");
  make_fifo(array);
  const ckpt::CheckpointManager m(saved.dir.string(), {.read_only = true});
  const ckpt::CheckpointError e = refused_promptly([&] { (void)m.restore(1, hand_state().as_abstract()); }, array);
  CHECK(e.code() == ckpt::ErrorCode::corrupted);
  CHECK_CONTAINS(e.what(), array);
  CHECK_CONTAINS(e.what(), "is a FIFO");
  CHECK_CONTAINS(e.what(), "not a regular file");
  refused_promptly([&] { (void)m.restore_state(1); }, array);
  refused_promptly([&] { (void)ckpt::ArrayFileReader(array).verify(); }, array);  // what nnx-ckpt verify runs
}

TEST_CASE("a FIFO in place of a JSON item is refused, without blocking") {
  SavedStep saved;
  const std::string json = saved.file("config.json");
  make_fifo(json);
  const ckpt::CheckpointManager m(saved.dir.string(), {.read_only = true});
  CHECK_CONTAINS(refused_promptly([&] { (void)m.restore_json(1, "config"); }, json).what(), "is a FIFO");
  refused_promptly([&] { (void)m.restore(1, ckpt::Composite().add("config", ckpt::JsonItem())); }, json);
}

TEST_CASE("a FIFO in place of _METADATA.json: the scan completes and lists the step, reading it is refused") {
  SavedStep saved;
  const std::string metadata = saved.file("_METADATA.json");
  make_fifo(metadata);
  auto opened = std::async(std::launch::async, [&] { return ckpt::CheckpointManager(saved.dir.string(), {.read_only = true}).all_steps(); });
  CHECK(finish_or_release(opened, metadata) == Steps{1});  // committed, so listed; reading it reports what is wrong
  const ckpt::CheckpointManager m(saved.dir.string(), {.read_only = true});
  CHECK_CONTAINS(refused_promptly([&] { (void)m.metadata(1); }, metadata).what(), "is a FIFO");
  refused_promptly([&] { (void)m.restore(1, hand_state().as_abstract()); }, metadata);
}

TEST_CASE("a symbolic link in place of an array file is refused, even to a valid copy") {
  SavedStep saved;
  TempDir outside{"nnx-outside"};
  const std::string array = saved.file("default.nnxa"), copy = outside.file("default.nnxa");
  fs::copy_file(array, copy);
  fs::remove(array);
  fs::create_symlink(copy, array);
  const ckpt::CheckpointManager m(saved.dir.string(), {.read_only = true});
  const ckpt::CheckpointError e = expect_checkpoint_error([&] { (void)m.restore(1, hand_state().as_abstract()); });
  CHECK(e.code() == ckpt::ErrorCode::corrupted);
  CHECK_CONTAINS(e.what(), array);
  CHECK_CONTAINS(e.what(), "is a symbolic link");
}

TEST_CASE("a sparse array file whose footer claims a 1.5 GB index costs one chunk of memory, not 1.5 GB") {
  TempDir dir("nnx-hostile-sparse");
  {
    ckpt::CheckpointManager manager(dir.string());
    manager.save(1, hand_state());
  }
  const std::string file = dir.file("1/default.nnxa");
  char header[17];
  {
    std::ifstream in(file, std::ios::binary);
    in.read(header, sizeof header);
    REQUIRE(in.good());
  }
  // Header, a 1.5 GB hole, and a footer that says the hole is the index (little-endian u64s).
  const std::uint64_t size = 1536ull << 20, index_offset = sizeof header, index_size = size - 32 - index_offset;
  const std::uint64_t footer[4] = {index_offset, index_size, 0x1234, 0x444E455F41584E4EULL};
  {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(header, sizeof header);
  }
  REQUIRE(::truncate(file.c_str(), static_cast<off_t>(size - 32)) == 0);
  {
    std::ofstream out(file, std::ios::binary | std::ios::app);
    out.write(reinterpret_cast<const char*>(footer), sizeof footer);
  }
  struct stat st {};
  REQUIRE(::stat(file.c_str(), &st) == 0);
  REQUIRE(static_cast<std::uint64_t>(st.st_size) == size);
  REQUIRE(st.st_blocks * 512 < 1 << 20);  // really sparse: almost nothing on disk

  // In a child, so that its peak RSS measures this read alone.
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    int code = 3;
    try {
      (void)ckpt::ArrayFileReader(file);
    } catch (const ckpt::CheckpointError& e) {
      code = std::string(e.what()).find("index checksum") != std::string::npos ? 0 : 4;
    } catch (...) {
      code = 5;  // bad_alloc or anything else escaping is a failure
    }
    struct rusage usage {};
    ::getrusage(RUSAGE_SELF, &usage);
    if (code == 0 && usage.ru_maxrss > 512 * 1024) code = 6;  // KiB: far below the claimed 1.5 GB
    std::_Exit(code);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  CHECK_MESSAGE(WEXITSTATUS(status) == 0, "child exit ", WEXITSTATUS(status),
                " (3: accepted, 4: other error, 5: non-CheckpointError, 6: peak RSS above 512 MiB)");
}

TEST_CASE("every file of a step replaced by a directory, socket, FIFO or link to /dev/zero: every reader refuses it, naming it") {
  for (const char* name : {"_COMMIT", "_METADATA.json", "default.nnxa", "config.json"}) {
    for (const SpecialCase& special : kSpecials) {
      INFO(name << " " << special.words);
      SavedStep saved;
      const std::string file = saved.file(name);
      make_special(file, special.kind);
      auto opened = std::async(std::launch::async, [&] { return ckpt::CheckpointManager(saved.dir.string(), {.read_only = true}).all_steps(); });
      CHECK(finish_or_release(opened, file) == Steps{1});  // committed (its _COMMIT exists), so listed
      const ckpt::CheckpointManager m(saved.dir.string(), {.read_only = true});
      const auto targets = ckpt::Composite().add(ckpt::kDefaultItem, hand_state().as_abstract()).add("config", ckpt::JsonItem());
      const ckpt::CheckpointError e = refused_promptly([&] { (void)m.restore(1, targets); }, file);
      CHECK(e.code() == ckpt::ErrorCode::corrupted);
      CHECK_CONTAINS(e.what(), file);
      CHECK_CONTAINS(e.what(), special.words);
      auto checked = std::async(std::launch::async, [&] { return m.verify(1); });
      const ckpt::StepCheck check = finish_or_release(checked, file);
      REQUIRE(check.problems.size() == 1);
      CHECK_CONTAINS(check.problems[0], file);
      auto intact = std::async(std::launch::async, [&] { return m.latest_intact_step(); });
      CHECK(finish_or_release(intact, file) == std::nullopt);
    }
  }
}

TEST_CASE("sparse files claiming gigabytes in place of _COMMIT, _METADATA.json or a JSON item are refused by their size") {
  for (const char* name : {"_COMMIT", "_METADATA.json", "config.json"}) {
    INFO(name);
    SavedStep saved;
    const std::string file = saved.file(name);
    REQUIRE(::truncate(file.c_str(), off_t{4} << 30) == 0);  // 4 GiB, a hole after the real bytes
    const ckpt::CheckpointManager m(saved.dir.string(), {.read_only = true});
    const ckpt::CheckpointError e = expect_checkpoint_error([&] { (void)m.restore_json(1, "config"); });
    CHECK(e.code() == ckpt::ErrorCode::corrupted);
    CHECK_CONTAINS(e.what(), file);
    CHECK_CONTAINS(e.what(), "4294967296 bytes, more than the");  // refused before a buffer of that size exists
  }
}
