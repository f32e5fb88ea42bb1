// Internal to load_csv: the rows of a file, cells as numbers, and the layout its first row gives.
#pragma once

#include <cstddef>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "nnx/data.hpp"

namespace nnx::csv {

struct Row {
  std::size_t line = 0;  // 1-based, in the file (skipped and blank lines counted)
  std::vector<std::string> cells;
};

// The non-blank rows of a file after CsvOptions::skip_lines lines; a UTF-8 byte-order mark is dropped.
class Rows {
 public:
  Rows(const std::string& path, const CsvOptions& options);
  ~Rows();
  bool next(Row& row);
  std::size_t lines() const { return line_; }  // read so far

 private:
  bool read_line();
  std::string path_;
  char delimiter_;
  std::unique_ptr<std::ifstream> in_;
  std::string text_;
  std::size_t line_ = 0;
};

// Cells split at the delimiter, spaces and tabs around each trimmed (and a '\r' at the end).
std::vector<std::string> split_line(const std::string& line, char delimiter);
// What a data cell may be: what std::from_chars reads as a double, with an optional leading '+'.
bool parse_number(const std::string& cell, double& v);
// "file:line:column (column 'name')"; without a header, "file:line:column".
std::string where(const std::string& path, std::size_t line, std::size_t column, const std::vector<std::string>& names);

struct Layout {
  bool has_header = false;
  std::vector<std::string> names{};  // empty without a header
  std::size_t columns = 0;
  std::size_t label = 0;
  std::size_t first_line = 0;  // the line of the first row (header or data)
};
// Decides from the first row and the options whether it is a header, checks the names, and finds the
// label column: every ambiguity is an error that says which option resolves it.
Layout layout_of(const Row& first, const CsvOptions& options, const std::string& path);

}  // namespace nnx::csv
