#include "nnx/progress.hpp"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>

namespace nnx {

namespace {
double now_seconds() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

std::string format_duration(double seconds) {
  if (!(seconds >= 0) || std::isinf(seconds)) return "?";
  const auto s = static_cast<long long>(seconds + 0.5);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", s / 3600, (s / 60) % 60, s % 60);
  return buf;
}
}  // namespace

Progress::Progress(std::int64_t total_steps, ProgressOptions options)
    : total_(total_steps),
      options_(std::move(options)),
      tty_(options_.out && isatty(fileno(options_.out))),
      start_(now_seconds()),
      last_(start_) {}

Progress::~Progress() { finish(); }

std::string Progress::line(std::int64_t step, double loss) const {
  const double elapsed = now_seconds() - start_;
  const double done = static_cast<double>(step - (first_step_ < 0 ? step : first_step_ - 1));
  const double rate = elapsed > 0 ? done / elapsed : 0;
  const double eta = rate > 0 ? static_cast<double>(total_ - step) / rate : -1;
  char buf[256];
  std::snprintf(buf, sizeof buf, "%s step %lld/%lld  %.0f steps/s  loss %.6g  ETA %s", options_.label.c_str(),
                static_cast<long long>(step), static_cast<long long>(total_), rate, loss, format_duration(eta).c_str());
  return buf;
}

void Progress::update(std::int64_t step, double loss) {
  if (!options_.enabled || !options_.out) return;
  if (first_step_ < 0) first_step_ = step;
  last_step_ = step;
  last_loss_ = loss;
  const double now = now_seconds();
  const double interval = options_.interval_seconds * (tty_ ? 1 : 10);
  if (now - last_ < interval && step != total_) return;
  last_ = now;
  const std::string text = line(step, loss);
  if (tty_)
    std::fprintf(options_.out, "\r%s\033[K", text.c_str());  // redraw in place, clear the rest
  else
    std::fprintf(options_.out, "%s\n", text.c_str());
  std::fflush(options_.out);
}

void Progress::finish() {
  if (finished_ || !options_.enabled || !options_.out || first_step_ < 0) return;
  finished_ = true;
  if (tty_)
    std::fprintf(options_.out, "\r%s\033[K\n", line(last_step_, last_loss_).c_str());
  else if (last_step_ != total_)
    std::fprintf(options_.out, "%s\n", line(last_step_, last_loss_).c_str());
  std::fflush(options_.out);
}

}  // namespace nnx
