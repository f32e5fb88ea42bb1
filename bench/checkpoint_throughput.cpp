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

void write(const bench::DiskArgs& a) {
  const nnx::State state = bench::make_state(a.params);
  bench::plain_write(a.dir + "/raw.bin", state);
  nnx::checkpoint::CheckpointManager(a.dir + "/ckpt").save(1, state);
}

// Nothing the read fills was ever allocated before in this process: the target is abstract, and
// the values it is checked against are made after the clock stops.
int cold(const bench::DiskArgs& a) {
  const nnx::State target = bench::make_state(a.params, false);
  const double mb = static_cast<double>(target.num_bytes()) / 1e6;
  if (a.which == "read") {
    bench::drop_from_page_cache(a.dir + "/raw.bin");
    const auto t = Clock::now();
    const std::vector<nnx::Array> read = bench::plain_read(a.dir + "/raw.bin", target);
    bench::report_ms("read (plain)", {ms_since(t)}, mb);
    return bench::same_values(read, bench::make_state(a.params)) ? 0 : 1;
  }
  if (a.which == "restore") {
    bench::drop_from_page_cache(a.dir + "/ckpt");
    const nnx::checkpoint::CheckpointManager m(a.dir + "/ckpt");
    const auto t = Clock::now();
    const nnx::State restored = m.restore(1, target);
    bench::report_ms("nnx restore (checked)", {ms_since(t)}, mb);
    return nnx::state_equal(restored, bench::make_state(a.params)) ? 0 : 1;
  }
  std::fprintf(stderr, "bench_checkpoint: cold reads are read and restore\n");
  return 2;
}
}  // namespace

int main(int argc, char** argv) {
  bench::DiskArgs a;
  if (!bench::parse_disk_args(argc, argv, a, "bench_checkpoint", "read|restore")) return 2;
  if (a.mode == "cold") return cold(a);
  boost::filesystem::remove_all(a.dir);
  boost::filesystem::create_directories(a.dir);
  if (a.mode == "write") write(a);
  if (a.mode == "warm") warm(a);
  return 0;
}
