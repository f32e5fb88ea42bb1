// load_csv: skipped lines, an optional header row (detected by default), then numeric rows. The
// header and the label column are decided in csv_header.cpp; errors name file, line, column, text.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <memory>

#include "csv_detail.hpp"
#include "nnx/data.hpp"
#include "nnx/error.hpp"

namespace nnx {

namespace {
// A value stored into an integer dtype must be a whole number within its range (a cast of anything
// else is undefined behaviour in C++, and would silently change the data).
bool fits(double v, DType dtype) {
  double lo = 0, hi = 0;
  switch (dtype) {
    case DType::int32: lo = -2147483648.0, hi = 2147483647.0; break;
    case DType::int64: lo = -9223372036854775808.0, hi = 9223372036854774784.0; break;  // largest double below 2^63
    case DType::uint32: lo = 0, hi = 4294967295.0; break;
    default: return true;  // floating
  }
  return v >= lo && v <= hi && v == std::floor(v);
}

template <class T> Array to_array(const std::vector<double>& values, Shape shape) {
  std::vector<T> typed(values.begin(), values.end());
  return Array::from_values<T>(std::move(shape), typed);
}

Array make(const std::vector<double>& values, Shape shape, DType dtype) {
  switch (dtype) {
    case DType::float32: return to_array<float>(values, std::move(shape));
    case DType::float64: return to_array<double>(values, std::move(shape));
    case DType::int32: return to_array<std::int32_t>(values, std::move(shape));
    case DType::int64: return to_array<std::int64_t>(values, std::move(shape));
    case DType::uint32: return to_array<std::uint32_t>(values, std::move(shape));
  }
  throw Error("load_csv: invalid dtype");
}
}  // namespace

namespace csv {
std::vector<std::string> split_line(const std::string& line, char delimiter) {
  std::vector<std::string> cells;
  std::size_t begin = 0;
  while (true) {
    const std::size_t end = std::min(line.find(delimiter, begin), line.size());
    std::size_t first = line.find_first_not_of(" \t", begin), last = end;
    while (last > begin && (line[last - 1] == '\r' || line[last - 1] == ' ' || line[last - 1] == '\t')) --last;
    cells.push_back(first < last ? line.substr(first, last - first) : std::string());
    if (end == line.size()) return cells;
    begin = end + 1;
  }
}

bool parse_number(const std::string& cell, double& v) {
  const char* begin = cell.data();
  const char* end = begin + cell.size();
  if (!cell.empty() && *begin == '+') ++begin;
  auto [ptr, ec] = std::from_chars(begin, end, v);
  return !cell.empty() && ec == std::errc{} && ptr == end;
}

std::string where(const std::string& path, std::size_t line, std::size_t column, const std::vector<std::string>& names) {
  std::string w = path + ":" + std::to_string(line) + ":" + std::to_string(column + 1);
  return names.empty() ? w : w + " (column '" + names[column] + "')";
}

Rows::Rows(const std::string& path, const CsvOptions& options)
    : path_(path), delimiter_(options.delimiter), in_(std::make_unique<std::ifstream>(path, std::ios::binary)) {
  if (!*in_) throw Error("load_csv: cannot open '" + path + "'; check that the file exists and is readable");
  for (std::size_t i = 0; i < options.skip_lines; ++i)
    if (!read_line())
      throw Error("load_csv: '" + path + "' has " + std::to_string(line_) + " lines, fewer than CsvOptions::skip_lines = " +
                  std::to_string(options.skip_lines));
}
Rows::~Rows() = default;

bool Rows::read_line() {
  if (!std::getline(*in_, text_)) return false;
  if (++line_ == 1 && text_.starts_with("\xEF\xBB\xBF")) text_.erase(0, 3);  // a UTF-8 byte-order mark
  return true;
}

bool Rows::next(Row& row) {
  while (read_line())
    if (text_.find_first_not_of(" \t\r") != std::string::npos) {  // blank lines are skipped
      row = {line_, split_line(text_, delimiter_)};
      return true;
    }
  return false;
}
}  // namespace csv

Dataset load_csv(const std::string& path, const CsvOptions& options) {
  csv::Rows rows(path, options);
  csv::Row row;
  if (!rows.next(row))
    throw Error("load_csv: '" + path + "' " +
                (rows.lines() == 0 ? std::string("is empty")
                 : options.skip_lines ? "has no rows after the " + std::to_string(options.skip_lines) + " skipped lines"
                                      : std::string("has only blank lines")) +
                "; expected numeric rows, with or without a header row");
  const csv::Layout layout = csv::layout_of(row, options, path);
  std::vector<double> features, labels;
  std::int64_t n = 0;
  for (bool data = !layout.has_header; data || rows.next(row); data = false) {
    if (row.cells.size() != layout.columns)
      throw Error(path + ":" + std::to_string(row.line) + ": expected " + std::to_string(layout.columns) + " cells, got " +
                  std::to_string(row.cells.size()) + " (every row has as many as line " + std::to_string(layout.first_line) + ")");
    for (std::size_t c = 0; c < row.cells.size(); ++c) {
      const std::string& cell = row.cells[c];
      const bool is_label = c == layout.label;
      const DType dtype = is_label ? options.label_dtype : options.feature_dtype;
      double v = 0;
      if (!csv::parse_number(cell, v))
        throw Error(csv::where(path, row.line, c, layout.names) + ": expected a number, got '" + cell +
                    "'; every cell but the header's must be numeric");
      if (!fits(v, dtype))
        throw Error(csv::where(path, row.line, c, layout.names) + ": expected a whole number that fits " +
                    std::string(dtype_name(dtype)) + " (a class label or an integer feature), got '" + cell + "'");
      (is_label ? labels : features).push_back(v);
    }
    ++n;
  }
  if (n == 0) throw Error("load_csv: '" + path + "' has a header but no rows");
  const auto f = static_cast<std::int64_t>(layout.columns - 1);
  return Dataset{make(features, {n, f}, options.feature_dtype),
                 make(labels, dtype_is_floating(options.label_dtype) ? Shape{n, 1} : Shape{n}, options.label_dtype)};
}

}  // namespace nnx
