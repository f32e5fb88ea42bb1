// Found by fuzzing: numbers that do not fit an integer dtype used to be cast (undefined behaviour).
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include <nnx/nnx.hpp>

#include "fixtures.hpp"

TEST_CASE("load_csv refuses integer labels that are fractional or out of range, naming the cell") {
  struct Case {
    const char* text;
    nnx::DType dtype;
    const char* expect;
  };
  const Case cases[] = {
      {"x,label\n1,6.6e72\n", nnx::DType::int32, ":2:2 (column 'label'): expected a whole number that fits int32"},
      {"x,label\n1,2.5\n", nnx::DType::int32, "got '2.5'"},
      {"x,label\n1,-1\n", nnx::DType::uint32, "fits uint32"},
      {"x,label\n1,1e19\n", nnx::DType::int64, "fits int64"},
  };
  framework_test::TempDir dir;
  for (const auto& c : cases) {
    const std::string path = dir.write("range.csv", c.text);
    CHECK_THROWS_WITH_AS(nnx::load_csv(path, {.label_column = "label", .label_dtype = c.dtype}), doctest::Contains(c.expect),
                         nnx::Error);
  }
  const std::string ok = dir.write("ok.csv", "x,label\n1,2147483647\n");
  CHECK(nnx::load_csv(ok, {.label_column = "label"}).labels.data<std::int32_t>()[0] == 2147483647);
}

TEST_CASE("astype and full saturate float values outside an integer range, NaN to 0") {
  const nnx::Array a = nnx::Array::from_values<double>({4}, {1e300, -1e300, std::nan(""), -2.7});
  const nnx::Array b = a.astype(nnx::DType::int32);
  CHECK(b.data<std::int32_t>()[0] == 2147483647);
  CHECK(b.data<std::int32_t>()[1] == -2147483647 - 1);
  CHECK(b.data<std::int32_t>()[2] == 0);
  CHECK(b.data<std::int32_t>()[3] == -2);
  CHECK(nnx::Array::full({1}, nnx::DType::uint32, -5.0).data<std::uint32_t>()[0] == 0);
}
