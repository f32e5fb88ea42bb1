// nnx/progress.hpp — a progress line for long loops: step, steps/s, loss, ETA.
//
//   nnx::Progress progress(total_steps);           // to stderr; off with {.enabled = false}
//   for (...) { ...; progress.update(step, loss); }
//   progress.finish();
//
// On a terminal the line redraws in place (carriage return); when the output is not a terminal
// (a log file, CI) it prints a plain line every `interval_seconds` instead.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace nnx {

struct ProgressOptions {
  bool enabled = true;
  double interval_seconds = 0.2;  // on a terminal; 10x this when not a terminal
  std::FILE* out = stderr;
  std::string label = "train";
};

class Progress {
 public:
  explicit Progress(std::int64_t total_steps, ProgressOptions options = {});
  ~Progress();

  // Reports that `step` (counting from 1 up to total_steps) is done, with its loss.
  void update(std::int64_t step, double loss);
  void finish();  // prints the final line (once)
  std::string line(std::int64_t step, double loss) const;  // the text update() would print

 private:
  std::int64_t total_;
  ProgressOptions options_;
  bool tty_;
  bool finished_ = false;
  double start_ = 0, last_ = 0;  // steady-clock seconds: no <chrono> here, it made every TU that
                                 // includes nnx.hpp compile ~10% slower
  std::int64_t first_step_ = -1;
  std::int64_t last_step_ = 0;
  double last_loss_ = 0;
};

}  // namespace nnx
