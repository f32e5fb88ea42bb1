// Found by fuzzing: rapidjson (inside cereal) has undefined behaviour on numbers like "0e266".
// nnx never writes them; a document holding one is reported as damaged before it is parsed.
#include <doctest/doctest.h>

#include <fstream>
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
