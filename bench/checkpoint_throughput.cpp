// Checkpoint throughput of nnx against the machine's limit (plain write+fsync / read of the same
// bytes), for a State of about N float32 parameters split into layer-sized arrays.
//
//   build/bin/bench_checkpoint PARAMS DIR [repeats]
//
// Prints one line per measurement: name, milliseconds (median of the repeats), and MB/s.
#include <fcntl.h>
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <boost/filesystem.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <nnx/checkpoint.hpp>
#include <nnx/nnx.hpp>
#include <vector>

#include "disk.hpp"

namespace {
using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

struct Stats {
  double median, min, max;
};
Stats stats(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v[v.size() / 2], v.front(), v.back()};
}

void plain_read(const std::string& path, nnx::State& s) {
  int fd = ::open(path.c_str(), O_RDONLY);
  for (auto& [p, v] : s)
    if (::read(fd, v.value.mutable_raw_data(), v.value.nbytes()) != static_cast<ssize_t>(v.value.nbytes())) std::abort();
  ::close(fd);
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: bench_checkpoint PARAMS DIR [repeats]\n");
    return 2;
  }
  const std::int64_t params = std::atoll(argv[1]);
  const std::string dir = argv[2];
  const int repeats = argc > 3 ? std::atoi(argv[3]) : 5;
  // Every large buffer comes fresh from the kernel, as in a process that just started: reads pay
  // the page faults in both the plain and the nnx measurement, whatever ran before.
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
  boost::filesystem::remove_all(dir);
  boost::filesystem::create_directories(dir);
  nnx::State state = bench::make_state(params);
  const double mb = static_cast<double>(state.num_bytes()) / 1e6;
  std::vector<double> t_write, t_read, t_save, t_restore, t_verify, t_async;
  for (int r = 0; r < repeats; ++r) {
    const std::string raw = dir + "/raw.bin";
    auto t = Clock::now();
    bench::plain_write(raw, state);
    t_write.push_back(ms_since(t));
    nnx::State target = state.as_abstract();
    t = Clock::now();
    nnx::State buffers = target;  // fresh buffers, as a restore needs: allocation and page faults count
    for (auto& [p, v] : buffers) v.value = nnx::Array::empty(v.value.shape(), v.value.dtype());
    plain_read(raw, buffers);
    t_read.push_back(ms_since(t));
    boost::filesystem::remove(raw);

    const std::string ckdir = dir + "/ckpt";
    boost::filesystem::remove_all(ckdir);
    {
      nnx::checkpoint::CheckpointManager m(ckdir);
      t = Clock::now();
      m.save(1, state);
      t_save.push_back(ms_since(t));
      t = Clock::now();
      nnx::State restored = m.restore(1, target);
      t_restore.push_back(ms_since(t));
      if (!nnx::state_equal(restored, state)) std::abort();
      t = Clock::now();
      nnx::checkpoint::ArrayFileReader reader(m.step_directory(1) + "/default.nnxa");
      if (!reader.verify().empty()) std::abort();
      t_verify.push_back(ms_since(t));
    }
    boost::filesystem::remove_all(ckdir);
    {
      nnx::checkpoint::CheckpointManager m(ckdir, {.enable_async_checkpointing = true});
      t = Clock::now();
      m.save(1, state);
      t_async.push_back(ms_since(t));
      m.wait_until_finished();
    }
    boost::filesystem::remove_all(ckdir);
  }
  auto report = [&](const char* name, const std::vector<double>& v) {  // name: median [min, max] ms, MB/s
    const Stats st = stats(v);
    std::printf("%-26s %10.3f ms [%.3f, %.3f]  %8.0f MB/s\n", name, st.median, st.min, st.max,
                st.median > 0 ? mb / (st.median / 1e3) : 0.0);
  };
  std::printf("state: %lld float32 parameters, %.1f MB, %d repeats (median)\n", static_cast<long long>(params), mb, repeats);
  report("write+fsync (plain)", t_write);
  report("nnx save (sync)", t_save);
  report("nnx save() blocks (async)", t_async);
  report("read (plain)", t_read);
  report("nnx restore (checked)", t_restore);
  report("nnx verify", t_verify);
  return 0;
}
