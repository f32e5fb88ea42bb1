// Checkpoint throughput of nnx against the machine's limit (plain write+fsync / read of the same
// bytes), for a State of about N float32 parameters split into layer-sized arrays; reads warm and
// cold as bench/read_conditions.hpp defines them.
//
//   build/bin/bench_checkpoint PARAMS DIR warm [repeats] | write | cold read|restore
//
// Prints one line per measurement: name, milliseconds (median of the repeats), and MB/s.
#include <boost/filesystem.hpp>
#include <cstdio>
#include <cstdlib>
#include <nnx/checkpoint.hpp>
#include <nnx/nnx.hpp>
#include <vector>

#include "disk.hpp"
#include "read_conditions.hpp"

namespace {
using bench::Clock;
using bench::ms_since;

void warm(const bench::DiskArgs& a) {
  bench::keep_freed_memory();
  const nnx::State state = bench::make_state(a.params);
  const nnx::State target = state.as_abstract();
  const double mb = static_cast<double>(state.num_bytes()) / 1e6;
  const std::string raw = a.dir + "/raw.bin", ckdir = a.dir + "/ckpt";
  std::vector<double> t_write, t_read, t_save, t_restore, t_verify, t_async;
  for (int r = 0; r <= a.repeats; ++r) {  // repeat 0 warms up, untimed
    auto keep = [&](std::vector<double>& v, Clock::time_point t) {
      if (r > 0) v.push_back(ms_since(t));
    };
    auto t = Clock::now();
    bench::plain_write(raw, state);
    keep(t_write, t);
    t = Clock::now();
    const std::vector<nnx::Array> read = bench::plain_read(raw, target);
    keep(t_read, t);
    if (!bench::same_values(read, state)) std::abort();
    boost::filesystem::remove(raw);

    boost::filesystem::remove_all(ckdir);
    {
      nnx::checkpoint::CheckpointManager m(ckdir);
      t = Clock::now();
      m.save(1, state);
      keep(t_save, t);
      t = Clock::now();
      const nnx::State restored = m.restore(1, target);
      keep(t_restore, t);
      if (!nnx::state_equal(restored, state)) std::abort();
      t = Clock::now();
      nnx::checkpoint::ArrayFileReader reader(m.step_directory(1) + "/default.nnxa");
      if (!reader.verify().empty()) std::abort();
      keep(t_verify, t);
    }
    boost::filesystem::remove_all(ckdir);
    {
      nnx::checkpoint::CheckpointManager m(ckdir, {.enable_async_checkpointing = true});
      t = Clock::now();
      m.save(1, state);
      keep(t_async, t);
      m.wait_until_finished();
    }
    boost::filesystem::remove_all(ckdir);
  }
  std::printf("state: %lld float32 parameters, %.1f MB, %d warm repeats (median)\n", static_cast<long long>(a.params), mb,
              a.repeats);
  bench::report_ms("write+fsync (plain)", t_write, mb);
  bench::report_ms("nnx save (sync)", t_save, mb);
  bench::report_ms("nnx save() blocks (async)", t_async, mb);
  bench::report_ms("read (plain)", t_read, mb);
  bench::report_ms("nnx restore (checked)", t_restore, mb);
  bench::report_ms("nnx verify", t_verify, mb);
}

void write(const std::string& dir, std::int64_t params) {
  boost::filesystem::create_directories(dir);
  const nnx::State state = bench::make_state(params);
  bench::plain_write(dir + "/raw.bin", state);
  nnx::checkpoint::CheckpointManager(dir + "/ckpt").save(1, state);
}

// One cold read ("read" or "restore") of the files `write` left in dir: its milliseconds, or -1
// when it read wrong values. Nothing the read fills was allocated before in this process: the
// target is abstract, and the values it is checked against are made after the clock stops.
double cold_read(const std::string& which, const std::string& dir, std::int64_t params) {
  const nnx::State target = bench::make_state(params, false);
  if (which == "read") {
    bench::drop_from_page_cache(dir + "/raw.bin");
    const auto t = Clock::now();
    const std::vector<nnx::Array> read = bench::plain_read(dir + "/raw.bin", target);
    const double ms = ms_since(t);
    return bench::same_values(read, bench::make_state(params)) ? ms : -1;
  }
  bench::drop_from_page_cache(dir + "/ckpt");
  const auto t = Clock::now();  // opening the directory counts, as opening torch::load's file does
  const nnx::State restored = nnx::checkpoint::CheckpointManager(dir + "/ckpt").restore(1, target);
  const double ms = ms_since(t);
  return nnx::state_equal(restored, bench::make_state(params)) ? ms : -1;
}

int cold(const bench::DiskArgs& a) {
  if (a.which != "read" && a.which != "restore") return 2;
  (void)cold_read(a.which, a.dir + "/tiny", 1);  // the code's own first-run costs, paid on a 1-parameter file
  const double ms = cold_read(a.which, a.dir, a.params);
  if (ms < 0) return 1;
  bench::report_ms(a.which == "read" ? "read (plain)" : "nnx restore (checked)", {ms}, static_cast<double>(a.params) * 4 / 1e6);
  return 0;
}
}  // namespace

int main(int argc, char** argv) {
  bench::DiskArgs a;
  if (!bench::parse_disk_args(argc, argv, a, "bench_checkpoint", "read|restore")) return 2;
  if (a.mode == "cold") return cold(a);
  boost::filesystem::remove_all(a.dir);
  boost::filesystem::create_directories(a.dir);
  if (a.mode == "write") {
    write(a.dir, a.params);
    write(a.dir + "/tiny", 1);  // for the cold reads' first run (cold)
  }
  if (a.mode == "warm") warm(a);
  return 0;
}
