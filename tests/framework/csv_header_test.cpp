// load_csv with and without a header row (issue 12): CsvOptions::header (detect / present / absent),
// label by name or by index, skip_lines, unique non-empty names; sklearn's two real layouts
// (tests/framework/data: wine_data.csv opens with a count line, digits.csv has no header).
#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include <nnx/nnx.hpp>

#include "fixtures.hpp"

using namespace framework_test;
using nnx::CsvHeader;

namespace {
std::string csv_fixture(const std::string& name) { return std::string(NNX_TEST_DATA_DIR) + "/" + name; }
}  // namespace

TEST_CASE("load_csv reads sklearn's wine_data.csv (a count line) and digits.csv (no header) with options") {
  const nnx::Dataset wine = nnx::load_csv(csv_fixture("wine_data.csv"), {.skip_lines = 1, .label_index = -1});
  CHECK(wine.features.shape() == nnx::Shape{6, 13});
  CHECK(values(wine.labels) == std::vector<double>{0, 0, 1, 1, 2, 2});
  CHECK(values(wine.features)[7] == doctest::Approx(0.28));  // ".28": no digit before the point
  CHECK(values(wine.features)[12] == 1065);

  // No header: the first row is data, not lost (it used to become the header).
  const nnx::Dataset digits = nnx::load_csv(csv_fixture("digits.csv"), {.label_index = -1});
  CHECK(digits.features.shape() == nnx::Shape{5, 64});
  CHECK(values(digits.labels) == std::vector<double>{0, 2, 4, 6, 8});  // "2.000000000000000000e+00" into int32
  CHECK(values(digits.features)[1] == 3);
  const nnx::Dataset same = nnx::load_csv(csv_fixture("digits.csv"), {.header = CsvHeader::absent, .label_index = 64});
  CHECK(values(same.features) == values(digits.features));
}

TEST_CASE("load_csv on sklearn's layouts without the right options: an error that names the option") {
  struct Case {
    std::string name, file;
    nnx::CsvOptions options;
    std::vector<std::string> parts;
  };
  const std::vector<Case> cases = {
      {"count line, defaults", "wine_data.csv", {}, {"wine_data.csv:1: cannot tell whether this row is a header",
       "column 1 '6' is a number", "column 3 'class_0' is not", "skip_lines = 1", "CsvHeader::present"}},
      {"count line skipped, no label", "wine_data.csv", {.skip_lines = 1},
       {"wine_data.csv:2: the first row is all numbers", "default label column 'label'", "label_index (-1 for the last"}},
      {"no header, a label name", "digits.csv", {.label_column = "0"},
       {"digits.csv:1: the first row is all numbers", "label_column = '0'", "label_index", "CsvHeader::present"}},
      {"header absent, a label name", "digits.csv", {.header = CsvHeader::absent, .label_column = "64"},
       {"label_column = '64' is a name", "header = CsvHeader::absent", "label_index"}},
      {"a data row forced to be the header", "digits.csv", {.header = CsvHeader::present, .label_index = -1},
       {"digits.csv:1: columns 1 and 8 of the header row are both named '0.000000000000000000e+00'", "rename one"}},
      {"index past the end", "digits.csv", {.label_index = 65}, {"label_index = 65", "has 65 columns", "expected -65 to 64"}},
      {"index before the start", "digits.csv", {.label_index = -66}, {"label_index = -66", "expected -65 to 64"}},
      {"name and index", "digits.csv", {.label_column = "y", .label_index = 0},
       {"both label_column = 'y' and label_index = 0", "give one"}},
      {"skip past the end", "wine_data.csv", {.skip_lines = 9}, {"has 7 lines, fewer than CsvOptions::skip_lines = 9"}},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    const std::string msg = error_of([&] { nnx::load_csv(csv_fixture(c.file), c.options); });
    CAPTURE(msg);
    for (const std::string& part : c.parts) CHECK(has(msg, part));
  }
}

TEST_CASE("load_csv: header detection, names, byte-order mark, skipped and blank lines, by table") {
  struct Case {
    std::string name, text;
    nnx::CsvOptions options;
    std::vector<double> features, labels;  // expected; empty features: expect an error with `error`
    std::string error = {};
  };
  const std::vector<Case> cases = {
      {"header detected", "x,label\n1,0\n2,1\n", {}, {1, 2}, {0, 1}},
      {"no header detected", "1,0\n2,1\n", {.label_index = 1}, {1, 2}, {0, 1}},
      {"label first by index", "1,5\n0,6\n", {.label_index = 0}, {5, 6}, {1, 0}},
      {"label by index with a header", "a,b,c\n1,2,3\n", {.label_index = -2}, {1, 3}, {2}},
      {"numeric names when told", "0,1,2\n5,6,1\n", {.header = CsvHeader::present, .label_column = "2"}, {5, 6}, {1}},
      {"pandas' unnamed columns", "0,1,2\n5,6,1\n", {.label_index = -1}, {}, {}, ":1: cannot tell whether this row is a header"},
      {"pandas' unnamed columns as data", "0,1,2\n5,6,1\n", {.header = CsvHeader::absent, .label_index = -1}, {0, 1, 5, 6}, {2, 1}},
      {"numeric names detected as data", "0,1.5,2\n5,6,1\n", {.label_column = "2"}, {}, {}, ":1: the first row is all numbers"},
      {"a number where a name is", "1,2,label\n3,4,0\n", {}, {}, {}, ":1: cannot tell whether this row is a header"},
      {"text in a headerless file", "1,2\n3,x\n", {.label_index = -1}, {}, {}, ":2:2: expected a number, got 'x'"},
      {"cell count without a header", "1,2\n3\n", {.label_index = -1}, {}, {}, ":2: expected 2 cells, got 1 (every row has as many as line 1)"},
      {"duplicate names", "a,b,a\n1,2,3\n", {.label_index = -1}, {}, {}, ":1: columns 1 and 3 of the header row are both named 'a'"},
      {"an empty name", "a,,label\n1,2,3\n", {}, {}, {}, ":1:2: column 2 of the header row has no name"},
      {"byte-order mark before a name", "\xEF\xBB\xBFx,label\n1,0\n", {}, {1}, {0}},
      {"byte-order mark before a number", "\xEF\xBB\xBF" "1,0\n2,1\n", {.label_index = -1}, {1, 2}, {0, 1}},
      {"blank lines before the header", "\n \nx,label\n1,0\n", {}, {1}, {0}},
      {"line numbers count blank lines", "\n\nx,label\n1,oops\n", {}, {}, {}, ":4:2 (column 'label'): expected a number"},
      {"line numbers count skipped lines", "# made by hand\nx,label\n1,z\n", {.skip_lines = 1}, {}, {}, ":3:2 (column 'label')"},
      {"a header and no rows", "x,label\n", {}, {}, {}, "has a header but no rows"},
      {"only blank lines", "\n \r\n", {}, {}, {}, "has only blank lines"},
      {"nothing after skipping", "a\n\n", {.skip_lines = 1}, {}, {}, "has no rows after the 1 skipped lines"},
      {"one column", "5\n6\n", {.label_index = 0}, {}, {}, "at least one feature column"},
  };
  TempDir dir;
  for (const Case& c : cases) {
    CAPTURE(c.name);
    const std::string file = dir.write("t.csv", c.text);
    if (!c.error.empty()) {
      const std::string msg = error_of([&] { nnx::load_csv(file, c.options); });
      CAPTURE(msg);
      CHECK(has(msg, c.error));
      continue;
    }
    const nnx::Dataset d = nnx::load_csv(file, c.options);
    CHECK(values(d.features) == c.features);
    CHECK(values(d.labels) == c.labels);
    CHECK(d.features.dim(0) == static_cast<std::int64_t>(c.labels.size()));
  }
}
