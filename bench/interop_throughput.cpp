// Export and import throughput (safetensors, npz) against the machine's limit: a plain write+fsync
// and a plain read of the same bytes. Warm: every operation in interleaved rounds in one process
// (the file in the page cache, memory faulted in by the round before; round 0 warms up, untimed).
// Cold: one read in a fresh process from a file dropped from the page cache (bench/read_conditions.hpp).
// Every read fills new buffers that stay alive until it ends, as an import's State holds them.
// State: about N float32 parameters in arrays of at most 4M elements.
//
//   build/bin/bench_interop PARAMS DIR warm [rounds] | write | cold read|load_safetensors|load_npz
//
// Prints per measurement: median ms [min, max], MB/s (and, warm, the ratio to the plain operation).
#include <algorithm>
#include <boost/filesystem.hpp>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <nnx/interop/npz.hpp>
#include <nnx/interop/safetensors.hpp>
#include <nnx/nnx.hpp>
#include <vector>

#include "disk.hpp"
#include "read_conditions.hpp"

namespace {
struct Row {
  const char* name;
  std::function<void()> run;
  std::string file;      // the file it writes or reads
  bool writes = false;   // a write's old file is removed before it is timed: no side pays for freeing it
  std::vector<double> ms;
};

std::vector<Row> rows(const std::string& dir, const nnx::State& state) {
  const std::string raw = dir + "/raw.bin", st = dir + "/m.safetensors", npz = dir + "/m.npz";
  return {
      {"write+fsync (plain)", [=, &state] { bench::plain_write(raw, state); }, raw, true, {}},
      {"save_safetensors", [=, &state] { nnx::interop::save_safetensors(st, state); }, st, true, {}},
      {"save_npz", [=, &state] { nnx::interop::save_npz(npz, state); }, npz, true, {}},
      {"read (plain)", [=, &state] { (void)bench::plain_read(raw, state); }, raw, false, {}},
      {"load_safetensors", [=] { (void)nnx::interop::load_safetensors(st); }, st, false, {}},
      {"load_npz", [=] { (void)nnx::interop::load_npz(npz); }, npz, false, {}},
  };
}

double time_ms(const std::function<void()>& f) {
  const auto t = bench::Clock::now();
  f();
  return bench::ms_since(t);
}

void warm(const bench::DiskArgs& a) {
  bench::keep_freed_memory();
  const nnx::State state = bench::make_state(a.params);
  const double mb = static_cast<double>(state.num_bytes()) / 1e6;
  std::vector<Row> all = rows(a.dir, state);
  for (int r = 0; r <= a.repeats; ++r)  // interleaved: every row once per round, in the same order
    for (Row& row : all) {
      if (row.writes) {
        boost::filesystem::remove(row.file);
        ::sync();
      }
      const double ms = time_ms(row.run);
      if (r > 0) row.ms.push_back(ms);
    }
  if (!nnx::state_equal(nnx::interop::load_safetensors(a.dir + "/m.safetensors"), state)) std::abort();
  std::printf("state: %lld float32 parameters, %.1f MB, %d warm interleaved rounds (median [min, max])\n",
              static_cast<long long>(a.params), mb, a.repeats);
  for (Row& row : all) bench::report_ms(row.name, row.ms, mb);
}
// One cold read (WHICH: read, load_safetensors or load_npz) of the files `write` left in dir, its
// milliseconds or -1 for no such read. The plain read's shapes are abstract: nothing any read fills
// was allocated before in this process.
double cold_read(const std::string& which, const std::string& dir, std::int64_t params) {
  const nnx::State shapes = bench::make_state(params, false);
  for (Row& row : rows(dir, shapes))
    if (!row.writes && which == (std::string(row.name) == "read (plain)" ? "read" : row.name)) {
      bench::drop_from_page_cache(row.file);
      return time_ms(row.run);
    }
  return -1;
}
}  // namespace

int main(int argc, char** argv) {
  bench::DiskArgs a;
  if (!bench::parse_disk_args(argc, argv, a, "bench_interop", "read|load_safetensors|load_npz")) return 2;
  if (a.mode == "cold") {
    (void)cold_read(a.which, a.dir + "/tiny", 1);  // the code's own first-run costs, paid on a 1-parameter file
    const double ms = cold_read(a.which, a.dir, a.params);
    if (ms < 0) return 2;
    bench::report_ms(a.which == "read" ? "read (plain)" : a.which.c_str(), {ms}, static_cast<double>(a.params) * 4 / 1e6);
    return 0;
  }
  boost::filesystem::remove_all(a.dir);
  boost::filesystem::create_directories(a.dir);
  if (a.mode == "warm") warm(a);
  if (a.mode == "write")
    for (const auto& [dir, params] : {std::pair{a.dir, a.params}, {a.dir + "/tiny", std::int64_t{1}}}) {
      boost::filesystem::create_directories(dir);
      const nnx::State state = bench::make_state(params);
      for (Row& row : rows(dir, state))
        if (row.writes) row.run();
    }
  return 0;
}
