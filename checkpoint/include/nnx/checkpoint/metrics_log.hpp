// nnx/checkpoint/metrics_log.hpp — a metrics log beside the checkpoints, for people and for pandas.
//
//   ckpt::MetricsLog log(dir);                                  // appends to <dir>/metrics.jsonl
//   log.append(step, {{"train_loss", 0.31}});                   // event "train"
//   log.append(step, {{"val_accuracy", 0.97}}, "save");
//   // Python: pandas.read_json("dir/metrics.jsonl", lines=True) — one row per line, NaN where absent
//   // Shell:  nnx-ckpt plot dir -o curves.svg                  — loss and accuracy curves
//
// One JSON object per line, keys in this order, numbers as the shortest text that reads back
// bitwise, a non-finite value as null:
//   {"step": 200, "event": "save", "time_unix_ms": 1764492000000, "val_accuracy": 0.97}
// Events written by nnx: "train" (append's default), "save" (Resumable::save, with the metrics
// saved), "resume" (the step a run resumed from), "start" (a run that found no checkpoint).
// Resumable keeps this log when asked (Resumable::log); on resume it drops the entries after the
// restored step — the resumed run redoes those steps — so the log always matches the checkpoints.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "nnx/checkpoint/manager.hpp"

namespace nnx::checkpoint {

inline constexpr const char* kMetricsLogFile = "metrics.jsonl";

struct LogEntry {
  std::int64_t step = 0;
  std::string event;
  std::int64_t time_unix_ms = 0;
  Metrics metrics;  // a null value reads back as NaN
};

class MetricsLog {
 public:
  // Opens (creating) <directory>/metrics.jsonl for appending; never follows a symbolic link. A line
  // left half-written by a killed process is cut off.
  explicit MetricsLog(const std::string& directory, std::function<std::int64_t()> clock = system_clock_unix_ms);
  ~MetricsLog();
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;

  // One line; event: 1 to 64 of [A-Za-z0-9_-]. Metric names are any text (escaped).
  void append(std::int64_t step, const Metrics& metrics, const std::string& event = "train");
  // Keeps the entries up to `step`, drops the later ones (atomically: written beside, renamed) and
  // appends an entry of `event` ("resume", or "start" with step 0 which drops everything).
  void restart_at(std::int64_t step, const std::string& event = "resume");
  void sync();  // fsync: the lines so far survive a power loss
  const std::string& path() const { return path_; }

 private:
  void open_for_append();
  std::string path_;
  std::function<std::int64_t()> clock_;
  int fd_ = -1;
};

// Reads a metrics log: at most 256 MiB and 64 KiB per line. A last line without its newline (a
// killed writer) is skipped; any other malformed line is a CheckpointError naming file and line.
std::vector<LogEntry> read_metrics_log(const std::string& path);

}  // namespace nnx::checkpoint
