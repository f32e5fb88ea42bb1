// The metrics log: lines that read back bitwise, a half-written line cut off, entries after a
// resumed step dropped, every malformed line refused with its line number.
#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "fixtures.hpp"

using namespace checkpoint_test;

namespace {
std::string log_text(const TempDir& dir) {
  std::ifstream in(dir.file("metrics.jsonl"));
  return {std::istreambuf_iterator<char>(in), {}};
}
}  // namespace

TEST_CASE("metrics log: every value reads back bitwise, names are escaped, non-finite values are null") {
  TempDir dir("nnx-metrics-log");
  const std::vector<double> values = {0.1, 1.0 / 3.0, -2.5e-300, 1e300, 0.0, std::numeric_limits<double>::denorm_min()};
  {
    std::int64_t now = 1000;
    ckpt::MetricsLog log(dir.string(), [&] { return now++; });
    for (std::size_t i = 0; i < values.size(); ++i) log.append(static_cast<std::int64_t>(i), {{"loss", values[i]}});
    log.append(9, {{"quote\"back\\slash\nnewline", 1.0}, {"nan", std::nan("")}, {"inf", INFINITY}}, "save");
  }
  const auto logged = ckpt::read_metrics_log(dir.file("metrics.jsonl"));
  REQUIRE(logged.size() == values.size() + 1);
  for (std::size_t i = 0; i < values.size(); ++i) {
    CHECK(logged[i].step == static_cast<std::int64_t>(i));
    CHECK(logged[i].event == "train");
    CHECK(logged[i].time_unix_ms == 1000 + static_cast<std::int64_t>(i));
    CHECK(std::bit_cast<std::uint64_t>(logged[i].metrics.at("loss")) == std::bit_cast<std::uint64_t>(values[i]));
  }
  const ckpt::LogEntry& last = logged.back();
  CHECK(last.event == "save");
  CHECK(last.metrics.at("quote\"back\\slash\nnewline") == 1.0);
  CHECK(std::isnan(last.metrics.at("nan")));
  CHECK(std::isnan(last.metrics.at("inf")));  // JSON has no infinity: written as null
  CHECK_CONTAINS(log_text(dir), "\"inf\": null");
  // Refused: events outside [A-Za-z0-9_-], reserved or empty metric names, invalid UTF-8.
  ckpt::MetricsLog log(dir.string());
  for (const std::string& event : {std::string(""), std::string("sp ace"), std::string(65, 'e')})
    CHECK(expect_checkpoint_error([&] { log.append(1, {}, event); }).code() == ckpt::ErrorCode::usage);
  for (const std::string& name : {std::string("step"), std::string(""), std::string("\xff\xfe")})
    CHECK(expect_checkpoint_error([&] { log.append(1, {{name, 1.0}}); }).code() == ckpt::ErrorCode::usage);
}

TEST_CASE("metrics log: a half-written last line is cut off, restart_at drops the later entries") {
  TempDir dir("nnx-metrics-restart");
  {
    ckpt::MetricsLog log(dir.string());
    for (std::int64_t step = 10; step <= 50; step += 10) log.append(step, {{"loss", 1.0 / static_cast<double>(step)}});
  }
  std::ofstream(dir.file("metrics.jsonl"), std::ios::app) << "{\"step\": 60, \"ev";  // killed mid-write
  CHECK(ckpt::read_metrics_log(dir.file("metrics.jsonl")).size() == 5);              // readers skip it
  ckpt::MetricsLog log(dir.string());                                                 // the writer cuts it
  CHECK(log_text(dir).back() == '\n');
  log.restart_at(30);
  log.append(40, {{"loss", 0.5}});
  const auto logged = ckpt::read_metrics_log(dir.file("metrics.jsonl"));
  REQUIRE(logged.size() == 5);  // 10, 20, 30, the resume at 30, the new 40
  CHECK(logged[2].step == 30);
  CHECK(logged[3].event == "resume");
  CHECK(logged[3].step == 30);
  CHECK(logged[4].metrics.at("loss") == 0.5);
  for (const auto& name : entries(dir)) CHECK(name.find(".nnx-tmp-") == std::string::npos);
}

TEST_CASE("metrics log: every malformed line is a CheckpointError naming the file and line") {
  TempDir dir("nnx-metrics-hostile");
  const std::string good = R"({"step": 1, "event": "train", "time_unix_ms": 5, "loss": 0.5})";
  const std::vector<std::string> bad = {
      R"({"step": 1, "event": "train"})",                                       // no time
      R"({"step": 1.5, "event": "train", "time_unix_ms": 5})",                  // step not an integer
      R"({"step": 1, "event": "train", "time_unix_ms": 5, "loss": [1]})",       // nested
      R"({"step": 1, "event": "train", "time_unix_ms": 5, "loss": 1e999})",     // not finite
      R"({"step": 1, "event": "train", "time_unix_ms": 5, "a": 1, "a": 2})",    // twice
      R"({"step": 1, "event": "tr\x", "time_unix_ms": 5})",                     // bad escape
      R"({"step": 1, "event": "\ud800", "time_unix_ms": 5})",                   // a lone surrogate
      R"({"step": 1, "event": "train", "time_unix_ms": 5} extra)",
      R"({})",
      R"([)",
      std::string(70000, ' '),                                                   // longer than 64 KiB
  };
  for (const std::string& line : bad) {
    CAPTURE(line.substr(0, 80));
    std::ofstream(dir.file("metrics.jsonl"), std::ios::trunc) << good << "\n" << line << "\n" << good << "\n";
    const auto e = expect_checkpoint_error([&] { ckpt::read_metrics_log(dir.file("metrics.jsonl")); });
    CHECK(e.code() == ckpt::ErrorCode::corrupted);
    CHECK_CONTAINS(e.what(), "metrics.jsonl' line 2");
  }
  std::ofstream(dir.file("metrics.jsonl"), std::ios::trunc) << good << "\n";
  CHECK(ckpt::read_metrics_log(dir.file("metrics.jsonl")).at(0).metrics.at("loss") == 0.5);
}
