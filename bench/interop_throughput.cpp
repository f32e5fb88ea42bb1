// Export and import throughput (safetensors, npz) against the machine's limit: a plain write+fsync
// and a plain read of the same bytes, measured in interleaved rounds under the same conditions
// (the file just written, so reads come from the page cache on every side; every read fills fresh
// buffers, as an import must). State: about N float32 parameters in arrays of at most 4M elements.
//
//   build/bin/bench_interop PARAMS DIR [rounds]
//
// Prints per measurement: median ms [min, max], MB/s, and the ratio to the plain operation.
#include <fcntl.h>
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <boost/filesystem.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <nnx/interop/npz.hpp>
#include <nnx/interop/safetensors.hpp>
#include <nnx/nnx.hpp>
#include <vector>

#include "disk.hpp"

namespace {
using Clock = std::chrono::steady_clock;

// Into fresh buffers that all stay alive until the end, as an import's State holds them (freeing
// each at once would let the allocator hand back the same, already faulted-in pages).
void plain_read(const std::string& path, const nnx::State& like) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  std::vector<nnx::Array> arrays;
  for (const auto& [p, v] : like) {
    arrays.push_back(nnx::Array::empty(v.value.shape(), v.value.dtype()));
    if (::read(fd, arrays.back().mutable_raw_data(), arrays.back().nbytes()) != static_cast<ssize_t>(arrays.back().nbytes()))
      std::abort();
  }
  ::close(fd);
}

double time_ms(const std::function<void()>& f) {
  const auto t = Clock::now();
  f();
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: bench_interop PARAMS DIR [rounds]\n");
    return 2;
  }
  const std::int64_t params = std::atoll(argv[1]);
  const std::string dir = argv[2];
  const int rounds = argc > 3 ? std::atoi(argv[3]) : 5;
  mallopt(M_MMAP_THRESHOLD, 1 << 20);  // large buffers fresh from the kernel on every side
  boost::filesystem::remove_all(dir);
  boost::filesystem::create_directories(dir);
  const nnx::State state = bench::make_state(params);
  const double mb = static_cast<double>(state.num_bytes()) / 1e6;
  const std::string raw = dir + "/raw.bin", st = dir + "/m.safetensors", npz = dir + "/m.npz";
  struct Row {
    const char* name;
    std::function<void()> run;
    std::vector<double> ms;
    std::string replaces;  // a write's file, removed before it is timed: no side pays for freeing the old one
  };
  std::vector<Row> rows = {
      {"write+fsync (plain)", [&] { bench::plain_write(raw, state); }, {}, raw},
      {"save_safetensors", [&] { nnx::interop::save_safetensors(st, state); }, {}, st},
      {"save_npz", [&] { nnx::interop::save_npz(npz, state); }, {}, npz},
      {"read (plain)", [&] { plain_read(raw, state); }, {}},
      {"load_safetensors", [&] { (void)nnx::interop::load_safetensors(st); }, {}},
      {"load_npz", [&] { (void)nnx::interop::load_npz(npz); }, {}},
  };
  for (int r = 0; r < rounds; ++r)  // interleaved: every row once per round, in the same order
    for (Row& row : rows) {
      if (!row.replaces.empty()) {
        boost::filesystem::remove(row.replaces);
        ::sync();
      }
      row.ms.push_back(time_ms(row.run));
    }
  if (!nnx::state_equal(nnx::interop::load_safetensors(st), state)) std::abort();
  std::printf("state: %lld float32 parameters, %.1f MB, %d interleaved rounds (median [min, max])\n",
              static_cast<long long>(params), mb, rounds);
  double plain = 0;
  for (Row& row : rows) {
    std::sort(row.ms.begin(), row.ms.end());
    const double median = row.ms[row.ms.size() / 2];
    if (std::string(row.name).find("plain") != std::string::npos) plain = median;
    std::printf("%-22s %10.1f ms [%.1f, %.1f]  %7.0f MB/s  %.2fx plain\n", row.name, median, row.ms.front(), row.ms.back(),
                mb / (median / 1e3), median / plain);
  }
  boost::filesystem::remove_all(dir);
  return 0;
}
