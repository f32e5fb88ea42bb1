// load_csv: a header row, then numeric cells. Errors name file, line, column and the text found.
#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>

#include "nnx/data.hpp"
#include "nnx/error.hpp"

namespace nnx {

namespace {
std::vector<std::string> split_line(const std::string& line, char delimiter) {
  std::vector<std::string> cells;
  std::string cell;
  std::istringstream in(line);
  while (std::getline(in, cell, delimiter)) {
    while (!cell.empty() && (cell.back() == '\r' || cell.back() == ' ' || cell.back() == '\t')) cell.pop_back();
    std::size_t first = cell.find_first_not_of(" \t");
    cells.push_back(first == std::string::npos ? std::string() : cell.substr(first));
  }
  if (!line.empty() && line.back() == delimiter) cells.emplace_back();
  return cells;
}

double parse_cell(const std::string& cell, const std::string& where) {
  double v = 0;
  const char* begin = cell.data();
  const char* end = begin + cell.size();
  if (!cell.empty() && *begin == '+') ++begin;
  auto [ptr, ec] = std::from_chars(begin, end, v);
  if (cell.empty() || ec != std::errc{} || ptr != end)
    throw Error(where + ": expected a number, got '" + cell + "'; every cell but the header must be numeric");
  return v;
}

// A value stored into an integer dtype must be a whole number within its range (a cast of anything
// else is undefined behaviour in C++, and would silently change the data).
void check_fits(double v, DType dtype, const std::string& where, const std::string& cell) {
  if (dtype_is_floating(dtype)) return;
  double lo = 0, hi = 0;
  switch (dtype) {
    case DType::int32: lo = -2147483648.0, hi = 2147483647.0; break;
    case DType::int64: lo = -9223372036854775808.0, hi = 9223372036854774784.0; break;  // largest double below 2^63
    case DType::uint32: lo = 0, hi = 4294967295.0; break;
    default: break;
  }
  if (!(v >= lo && v <= hi) || v != std::floor(v))
    throw Error(where + ": expected a whole number that fits " + std::string(dtype_name(dtype)) + " (a class label or an "
                "integer feature), got '" + cell + "'");
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

Dataset load_csv(const std::string& path, const CsvOptions& options) {
  std::ifstream in(path);
  if (!in) throw Error("load_csv: cannot open '" + path + "'; check that the file exists and is readable");
  std::string line;
  if (!std::getline(in, line)) throw Error("load_csv: '" + path + "' is empty; expected a header row");
  const std::vector<std::string> header = split_line(line, options.delimiter);
  std::ptrdiff_t label = -1;
  for (std::size_t i = 0; i < header.size(); ++i)
    if (header[i] == options.label_column) label = static_cast<std::ptrdiff_t>(i);
  if (label < 0) {
    std::string names;
    for (const auto& h : header) names += (names.empty() ? "" : ", ") + h;
    throw Error("load_csv: '" + path + "' has no column '" + options.label_column + "' (columns: " + names +
                "); set CsvOptions::label_column");
  }
  if (header.size() < 2) throw Error("load_csv: '" + path + "' needs at least one feature column besides the label");
  std::vector<double> features, labels;
  std::int64_t rows = 0;
  for (std::size_t line_no = 2; std::getline(in, line); ++line_no) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;  // blank lines
    const std::vector<std::string> cells = split_line(line, options.delimiter);
    if (cells.size() != header.size())
      throw Error(path + ":" + std::to_string(line_no) + ": expected " + std::to_string(header.size()) + " cells, got " +
                  std::to_string(cells.size()));
    for (std::size_t c = 0; c < cells.size(); ++c) {
      const std::string where = path + ":" + std::to_string(line_no) + ":" + std::to_string(c + 1) + " (column '" + header[c] + "')";
      const double v = parse_cell(cells[c], where);
      const bool is_label = static_cast<std::ptrdiff_t>(c) == label;
      check_fits(v, is_label ? options.label_dtype : options.feature_dtype, where, cells[c]);
      (is_label ? labels : features).push_back(v);
    }
    ++rows;
  }
  if (rows == 0) throw Error("load_csv: '" + path + "' has a header but no rows");
  const auto f = static_cast<std::int64_t>(header.size() - 1);
  return Dataset{make(features, {rows, f}, options.feature_dtype),
                 make(labels, dtype_is_floating(options.label_dtype) ? Shape{rows, 1} : Shape{rows}, options.label_dtype)};
}

}  // namespace nnx
