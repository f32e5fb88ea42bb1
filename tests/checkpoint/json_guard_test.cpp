// Found by fuzzing: rapidjson (inside cereal) has undefined behaviour on numbers like "0e266".
// nnx never writes them; a document holding one is reported as damaged before it is parsed.
#include <doctest/doctest.h>

#include <fstream>
#include <cereal/types/vector.hpp>
#include <nnx/checkpoint/json.hpp>

#include "fixtures.hpp"

using namespace checkpoint_test;

TEST_CASE("step metadata and JSON items with a zero-with-exponent number are corrupted, not parsed") {
  TempDir dir("nnx-json-guard");
  const std::string many_digits = "0." + std::string(300, '0') + "123";
  const std::string huge_exponent = "1e0000012345";
  for (const char* number : {"0e266", "-0.0E5", "000e-3", "0.000000000000000000000000000000000", many_digits.c_str(),
                             huge_exponent.c_str()}) {
    std::ofstream(dir.file("_METADATA.json")) << "{\"format\": \"nnx-checkpoint\", \"format_version\": 1, \"step\": " << number
                                               << "}";
    std::ofstream(dir.file("_COMMIT")) << "nnx-checkpoint 1 step 0\n";  // format 1: no manifest to catch it first
    const auto e = expect_checkpoint_error([&] { ckpt::read_step_metadata(dir.string()); });
    CHECK(e.code() == ckpt::ErrorCode::corrupted);
    CHECK_CONTAINS(e.what(), "a spelling of a number nnx never writes");
    CHECK_CONTAINS(e.what(), "_METADATA.json");
    const auto item = ckpt::JsonItem::from_text(std::string("{\"format\": \"nnx-json-item\", \"format_version\": 1, \"value\": ") +
                                                number + "}");
    CHECK_CONTAINS(expect_checkpoint_error([&] { item.validate(); }).what(), "a spelling of a number nnx never writes");
    CHECK_CONTAINS(expect_checkpoint_error([&] { (void)item.get<double>(); }).what(), "a spelling of a number nnx never writes");
  }
  // Ordinary numbers, and digits inside strings, are fine.
  const auto ok = ckpt::JsonItem::from_text(R"({"format": "nnx-json-item", "format_version": 1, "value": 1.5e3, "s": "0e266"})");
  CHECK(ok.get<double>() == 1500.0);
  const auto small = ckpt::JsonItem::from_text(R"({"format": "nnx-json-item", "format_version": 1, "value": -2.2250738585072014e-308})");
  CHECK(small.get<double>() == -2.2250738585072014e-308);
  for (const char* zero : {"0", "-0", "0.0", "-0.0"}) {
    const auto z = ckpt::JsonItem::from_text(std::string("{\"format\": \"nnx-json-item\", \"format_version\": 1, \"value\": ") + zero + "}");
    CHECK(z.get<double>() == 0.0);
  }
}

TEST_CASE("deeply nested JSON (500,000 levels) is damage, never a stack overflow, and the directory stays usable") {
  TempDir dir("nnx-json-depth");
  {
    ckpt::CheckpointManager manager(dir.string());
    manager.save(1, hand_state(1.0), {{"loss", 1.0}});
    manager.save(2, hand_state(2.0), {{"loss", 0.5}});
  }
  // 500,000 nested '[' in the older step's metadata (1,000,000 bytes: within the 1 MiB bound of
  // _METADATA.json, so the depth check is what refuses it): rapidjson's recursion crashed on 140,000.
  const std::string deep = std::string(500000, '[') + std::string(500000, ']');
  make_format_1(dir.file("1"), 1);  // the manifest of format 2 would refuse the file before parsing it
  std::ofstream(dir.file("1/_METADATA.json"), std::ios::trunc) << deep;
  ckpt::CheckpointManager manager(dir.string(), {.read_only = true});
  CHECK(manager.all_steps() == Steps{1, 2});  // the scan went on past the damaged step
  CHECK(nnx::state_equal(manager.restore(2, hand_state().as_abstract()), hand_state(2.0)));
  const auto e = expect_checkpoint_error([&] { (void)manager.restore(1, hand_state().as_abstract()); });
  CHECK(e.code() == ckpt::ErrorCode::corrupted);
  CHECK_CONTAINS(e.what(), "deeper than 256 levels");
  CHECK_CONTAINS(e.what(), "_METADATA.json");

  // A JSON item: the same, before cereal sees it; nesting within the bound still parses.
  const auto item = ckpt::JsonItem::from_text("{\"format\": \"nnx-json-item\", \"format_version\": 1, \"value\": " + deep + "}");
  CHECK_CONTAINS(expect_checkpoint_error([&] { (void)item.get<std::vector<int>>(); }).what(), "deeper than 256 levels");
  const auto nested = ckpt::JsonItem::from_text(
      R"({"format": "nnx-json-item", "format_version": 1, "value": [[1, 2], [3]], "s": "[[[[ in a string"})");
  CHECK(nested.get<std::vector<std::vector<int>>>() == std::vector<std::vector<int>>{{1, 2}, {3}});
}

TEST_CASE("a JSON item file refused by validation is named in the error (a format-1 step: no manifest catches it first)") {
  TempDir dir("nnx-json-item-named");
  {
    ckpt::CheckpointManager manager(dir.string());
    manager.save(1, ckpt::Composite().add(ckpt::kDefaultItem, hand_state()).add("config", ckpt::JsonItem::from_text(
                                                                                   R"({"format": "nnx-json-item", "format_version": 1, "value": 1})")));
  }
  make_format_1(dir.file("1"), 1);
  const ckpt::CheckpointManager manager(dir.string(), {.read_only = true});
  for (const std::string& text : {std::string(300, '[') + std::string(300, ']'), std::string(R"({"format": "other", "format_version": 1})"),
                                  std::string("{\"format\": ")}) {
    std::ofstream(dir.file("1/config.json"), std::ios::trunc) << text;
    const auto e = expect_checkpoint_error([&] { (void)manager.restore_json(1, "config"); });
    CHECK_CONTAINS(e.what(), dir.file("1/config.json"));
    CHECK_CONTAINS(manager.verify(1).problems.at(0), "config.json");
  }
}

TEST_CASE("metrics are bounded when written and when read: a huge metadata file is refused before it is parsed") {
  TempDir dir("nnx-metrics-bound");
  ckpt::Metrics many;
  for (int i = 0; i < 10001; ++i) many["m" + std::to_string(i)] = i;
  ckpt::CheckpointManager manager(dir.string());
  CHECK(expect_checkpoint_error([&] { manager.save(1, hand_state(), many); }).code() == ckpt::ErrorCode::usage);
  CHECK(manager.all_steps().empty());  // nothing half-saved
  manager.save(1, hand_state(), {{"loss", 1.0}});
  // 1M metrics written by hand into a format-1 step (no manifest): refused by size, not parsed.
  make_format_1(dir.file("1"), 1);
  std::string text = "{\"format\": \"nnx-checkpoint\", \"format_version\": 1, \"step\": 1, \"created_unix_ms\": 0, \"metrics\": {";
  for (int i = 0; i < 1000000; ++i) text += (i ? ", \"m" : "\"m") + std::to_string(i) + "\": 0.5";
  std::ofstream(dir.file("1/_METADATA.json"), std::ios::trunc) << text << "}, \"items\": []}";
  const auto e = expect_checkpoint_error([&] { (void)ckpt::read_step_metadata(dir.file("1")); });
  CHECK(e.code() == ckpt::ErrorCode::corrupted);
  CHECK_CONTAINS(e.what(), "more than the 1048576");
}
