// The metrics log (nnx/checkpoint/metrics_log.hpp): written a line at a time with O_APPEND, read
// by a flat-object JSON parser without recursion, every length bounded.
#include "nnx/checkpoint/metrics_log.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <cmath>
#include <cstdio>

#include "io.hpp"
#include "json_text.hpp"
#include "metadata.hpp"

namespace nnx::checkpoint {

namespace {
constexpr std::uint64_t kMaxLogBytes = 256ull << 20;
constexpr std::size_t kMaxLineBytes = 64 << 10;

bool valid_utf8(std::string_view s) { return json::utf8_error_offset(s) == s.size(); }

using json::append_string;

void append_number(std::string& out, double v) {
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);  // shortest text that reads back bitwise
  out.append(buf, r.ptr);
}

std::string format_line(std::int64_t step, const std::string& event, std::int64_t time_ms, const Metrics& metrics) {
  std::string line = "{\"step\": " + std::to_string(step) + ", \"event\": ";
  append_string(line, event);
  line += ", \"time_unix_ms\": " + std::to_string(time_ms);
  for (const auto& [name, value] : metrics) {
    line += ", ";
    append_string(line, name);
    line += ": ";
    append_number(line, value);
  }
  return line + "}\n";
}

// A parser of one line: {"key": number | null | "string", ...}, nothing nested.
class LineParser {
 public:
  LineParser(std::string_view text, const std::string& where) : s_(text), where_(where) {}

  LogEntry parse() {
    LogEntry e;
    bool has_step = false, has_event = false, has_time = false;
    expect('{');
    skip_spaces();
    if (peek() == '}') fail("an empty object");
    while (true) {
      const std::string key = string_value();
      expect(':');
      skip_spaces();
      if (key == "event") {
        e.event = string_value();
        has_event = true;
      } else if (key == "step" || key == "time_unix_ms") {
        const std::int64_t v = integer_value();
        (key == "step" ? e.step : e.time_unix_ms) = v;
        (key == "step" ? has_step : has_time) = true;
      } else {
        const double v = number_or_null();
        if (!e.metrics.emplace(key, v).second) fail("metric '" + key + "' twice");
      }
      skip_spaces();
      if (peek() == ',') {
        ++i_;
        continue;
      }
      expect('}');
      break;
    }
    skip_spaces();
    if (i_ != s_.size()) fail("text after the object");
    if (!has_step || !has_event || !has_time) fail("no \"step\", \"event\" or \"time_unix_ms\"");
    return e;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw CheckpointError(ErrorCode::corrupted, where_ + ": not a metrics log entry (" + what + " at column " +
                                                    std::to_string(i_ + 1) + ")");
  }
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void skip_spaces() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\r')) ++i_;
  }
  void expect(char c) {
    skip_spaces();
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++i_;
  }
  std::string string_value() {
    json::Cursor c(s_, where_ + ": not a metrics log entry", "the line is damaged", i_);
    std::string out = c.read_string();
    i_ = c.offset();
    if (!valid_utf8(out)) fail("a string that is not UTF-8");
    return out;
  }
  std::string_view token() {
    const std::size_t begin = i_;
    while (i_ < s_.size() && std::string_view("+-.0123456789eE").find(s_[i_]) != std::string_view::npos) ++i_;
    return s_.substr(begin, i_ - begin);
  }
  std::int64_t integer_value() {
    const std::string_view t = token();
    std::int64_t v = 0;
    const auto r = std::from_chars(t.data(), t.data() + t.size(), v);
    if (t.empty() || r.ec != std::errc() || r.ptr != t.data() + t.size()) fail("an integer expected");
    return v;
  }
  double number_or_null() {
    if (s_.substr(i_, 4) == "null") {
      i_ += 4;
      return std::nan("");
    }
    const std::string_view t = token();
    double v = 0;
    const auto r = std::from_chars(t.data(), t.data() + t.size(), v);
    if (t.empty() || r.ec != std::errc() || r.ptr != t.data() + t.size() || !std::isfinite(v)) fail("a number expected");
    return v;
  }

  std::string_view s_;
  std::string where_;
  std::size_t i_ = 0;
};

// The whole file; without a partial last line.
std::string read_complete_lines(const std::string& path) {
  std::string text = io::read_small_file(path, kMaxLogBytes);
  text.resize(text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1);
  return text;
}
}  // namespace

std::vector<LogEntry> read_metrics_log(const std::string& path) {
  const std::string text = read_complete_lines(path);
  std::vector<LogEntry> entries;
  std::size_t line_no = 0;
  for (std::size_t begin = 0; begin < text.size();) {
    const std::size_t end = text.find('\n', begin);
    ++line_no;
    const std::string where = "'" + path + "' line " + std::to_string(line_no);
    if (end - begin > kMaxLineBytes)
      throw CheckpointError(ErrorCode::corrupted, where + " is longer than " + std::to_string(kMaxLineBytes) + " bytes");
    entries.push_back(LineParser(std::string_view(text).substr(begin, end - begin), where).parse());
    begin = end + 1;
  }
  return entries;
}

MetricsLog::MetricsLog(const std::string& directory, std::function<std::int64_t()> clock)
    : path_(directory + "/" + kMetricsLogFile), clock_(std::move(clock)) {
  if (!clock_) throw CheckpointError(ErrorCode::usage, "MetricsLog: the clock is empty");
  open_for_append();
  struct stat st {};
  if (::fstat(fd_, &st) == 0 && st.st_size > 0) {
    char last = '\n';
    if (::pread(fd_, &last, 1, st.st_size - 1) == 1 && last != '\n') {
      const std::string complete = read_complete_lines(path_);  // cut a line a killed writer left half-written
      if (::ftruncate(fd_, static_cast<off_t>(complete.size())) != 0) io::throw_errno("truncating", path_, errno);
    }
  }
}

MetricsLog::~MetricsLog() {
  if (fd_ >= 0) ::close(fd_);
}

void MetricsLog::open_for_append() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = ::open(path_.c_str(), O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644);
  if (fd_ < 0) io::throw_errno("opening the metrics log", path_, errno);
  struct stat st {};
  if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd_);
    fd_ = -1;
    throw CheckpointError(ErrorCode::corrupted, "'" + path_ + "' must be a regular file, found " + io::file_type_name(st.st_mode));
  }
}

void MetricsLog::append(std::int64_t step, const Metrics& metrics, const std::string& event) {
  if (event.empty() || event.size() > 64 || event.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") != std::string::npos)
    throw CheckpointError(ErrorCode::usage, "MetricsLog: event '" + event.substr(0, 64) + "' must be 1 to 64 of [A-Za-z0-9_-]");
  for (const auto& [name, value] : metrics)
    if (name.empty() || !valid_utf8(name) || name == "step" || name == "event" || name == "time_unix_ms")
      throw CheckpointError(ErrorCode::usage, "MetricsLog: metric name '" + name.substr(0, 64) +
                                                  "' must be non-empty UTF-8 and not step, event or time_unix_ms");
  const std::string line = format_line(step, event, clock_(), metrics);
  if (line.size() > kMaxLineBytes)
    throw CheckpointError(ErrorCode::usage, "MetricsLog: a line of " + std::to_string(line.size()) + " bytes is more than " +
                                                std::to_string(kMaxLineBytes) + "; log fewer metrics per line");
  const ssize_t n = ::write(fd_, line.data(), line.size());  // O_APPEND: one write, one line
  if (n != static_cast<ssize_t>(line.size())) io::throw_errno("appending to", path_, n < 0 ? errno : ENOSPC);
}

void MetricsLog::restart_at(std::int64_t step, const std::string& event) {
  std::string kept;
  const std::string text = read_complete_lines(path_);
  std::size_t line_no = 0;
  for (std::size_t begin = 0; begin < text.size();) {
    const std::size_t end = text.find('\n', begin);
    const std::string_view line = std::string_view(text).substr(begin, end - begin + 1);
    const std::string where = "'" + path_ + "' line " + std::to_string(++line_no);
    if (LineParser(line.substr(0, line.size() - 1), where).parse().step <= step) kept += line;
    begin = end + 1;
  }
  const std::string tmp = path_ + kTmpMarker + std::to_string(::getpid());
  std::remove(tmp.c_str());
  io::write_file_durably(tmp, kept);
  if (::rename(tmp.c_str(), path_.c_str()) != 0) io::throw_errno("renaming into place", path_, errno);
  open_for_append();
  append(step, {}, event);
}

void MetricsLog::sync() {
  if (::fsync(fd_) != 0) io::throw_errno("fsync of", path_, errno);
}

}  // namespace nnx::checkpoint
