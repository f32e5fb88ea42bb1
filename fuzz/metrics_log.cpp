// Fuzzes the metrics log (metrics.jsonl): read_metrics_log gives entries or a CheckpointError naming
// the line; a MetricsLog opened on the same bytes cuts a half-written last line, and restart_at
// keeps exactly the complete entries up to its step (or refuses the file with a CheckpointError).
#include <nnx/checkpoint/error.hpp>
#include <nnx/checkpoint/metrics_log.hpp>

#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace ckpt = nnx::checkpoint;
  const std::string dir = fuzz::scratch().string(), path = dir + "/" + ckpt::kMetricsLogFile;
  fuzz::write_file(path, data, size);
  std::size_t entries = 0;
  try {
    entries = ckpt::read_metrics_log(path).size();
  } catch (const ckpt::CheckpointError&) {
    return 0;
  }
  try {
    ckpt::MetricsLog log(dir, [] { return std::int64_t{0}; });
    log.restart_at(0, "start");
    const auto after = ckpt::read_metrics_log(path);  // what restart_at wrote must read back
    if (after.empty() || after.back().event != "start" || after.size() > entries + 1) __builtin_trap();
  } catch (const ckpt::CheckpointError&) {
  }
  return 0;
}
