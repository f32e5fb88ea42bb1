// Progress: plain lines when the output is not a terminal, nothing when disabled, line() format.
#include <doctest/doctest.h>

#include <cstdio>
#include <regex>
#include <string>
#include <vector>

#include <nnx/nnx.hpp>

namespace {

// A temporary file (not a terminal), read back whole.
struct TmpFile {
  std::FILE* f = std::tmpfile();
  ~TmpFile() {
    if (f) std::fclose(f);
  }
  std::string text() const {
    std::fflush(f);
    std::rewind(f);
    std::string out;
    char buf[512];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) out.append(buf, n);
    return out;
  }
};

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (std::size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1)
    out.push_back(text.substr(start, nl - start));
  if (start < text.size()) out.push_back(text.substr(start));  // an unterminated last line
  return out;
}

// label step N/T  R steps/s  loss L  ETA h:mm:ss (or ? before a rate is known)
const std::regex kLine(R"(^(\w+) step (\d+)/(\d+)  \d+ steps/s  loss (\S+)  ETA (\?|\d+:\d\d:\d\d)$)");

}  // namespace

TEST_CASE("Progress to a file prints plain lines: step N/T, steps/s, loss, ETA") {
  TmpFile file;
  REQUIRE(file.f);
  {
    nnx::Progress progress(5, {.interval_seconds = 0.0, .out = file.f, .label = "fit"});
    for (int step = 1; step <= 5; ++step) progress.update(step, 1.0 / step);
    progress.finish();
    progress.finish();  // once only
  }  // nor again from the destructor
  const std::string text = file.text();
  CHECK(text.find('\r') == std::string::npos);  // no redrawing in a file
  CHECK(text.find('\033') == std::string::npos);
  const std::vector<std::string> lines = lines_of(text);
  REQUIRE(lines.size() == 5);
  const char* losses[] = {"1", "0.5", "0.333333", "0.25", "0.2"};
  for (std::size_t i = 0; i < lines.size(); ++i) {
    CAPTURE(lines[i]);
    std::smatch m;
    REQUIRE(std::regex_match(lines[i], m, kLine));
    CHECK(m[1] == "fit");
    CHECK(m[2] == std::to_string(i + 1));
    CHECK(m[3] == "5");
    CHECK(m[4] == losses[i]);
  }
  CHECK(lines.back().find("ETA 0:00:00") != std::string::npos);  // nothing left at the last step
}

TEST_CASE("Progress to a file: between intervals only the last step prints, finish() reports an early stop") {
  TmpFile done, stopped;
  {
    nnx::Progress progress(100, {.interval_seconds = 1e6, .out = done.f});
    for (int step = 1; step <= 100; ++step) progress.update(step, 0.5);
  }
  std::vector<std::string> lines = lines_of(done.text());
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].rfind("train step 100/100 ", 0) == 0);  // the default label

  {
    nnx::Progress progress(100, {.interval_seconds = 1e6, .out = stopped.f});
    for (int step = 1; step <= 37; ++step) progress.update(step, 2.5);
  }  // the destructor finishes: the last reported step is printed once
  lines = lines_of(stopped.text());
  REQUIRE(lines.size() == 1);
  std::smatch m;
  REQUIRE(std::regex_match(lines[0], m, kLine));
  CHECK(m[2] == "37");
  CHECK(m[3] == "100");
  CHECK(m[4] == "2.5");
}

TEST_CASE("Progress disabled, or never updated, prints nothing") {
  TmpFile file;
  {
    nnx::Progress progress(10, {.enabled = false, .interval_seconds = 0.0, .out = file.f});
    for (int step = 1; step <= 10; ++step) progress.update(step, 1.0);
    progress.finish();
  }
  { nnx::Progress idle(10, {.interval_seconds = 0.0, .out = file.f}); }
  CHECK(file.text().empty());
}

TEST_CASE("Progress::line formats label, step, total, loss and ETA") {
  nnx::Progress progress(250, {.enabled = false, .label = "epoch"});
  const std::string line = progress.line(40, 0.0123456789);
  CAPTURE(line);
  std::smatch m;
  REQUIRE(std::regex_match(line, m, kLine));
  CHECK(m[1] == "epoch");
  CHECK(m[2] == "40");
  CHECK(m[3] == "250");
  CHECK(m[4] == "0.0123457");  // %.6g
  const std::string tiny = progress.line(1, 1e-9);
  REQUIRE(std::regex_match(tiny, m, kLine));
  CHECK(m[4] == "1e-09");
  CHECK(progress.line(250, 3.0).find("step 250/250") != std::string::npos);
}
