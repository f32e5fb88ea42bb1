// load_csv's first row: header or data (CsvHeader), unique non-empty names, and the label column.
#include <cstdint>
#include <map>
#include <string>

#include "csv_detail.hpp"
#include "nnx/error.hpp"

namespace nnx::csv {

namespace {
std::string at(const std::string& path, const Row& row) { return path + ":" + std::to_string(row.line); }
std::string quoted(const Row& row, std::size_t c) { return "column " + std::to_string(c + 1) + " '" + row.cells[c] + "'"; }

bool is_header(const Row& first, const CsvOptions& options, const std::string& path) {
  if (options.header != CsvHeader::detect) return options.header == CsvHeader::present;
  const std::size_t n = first.cells.size();
  std::size_t number = n, text = n;  // the first numeric and the first non-numeric cell
  for (std::size_t c = 0; c < n; ++c) {
    double v = 0;
    std::size_t& first_of_kind = parse_number(first.cells[c], v) ? number : text;
    if (first_of_kind == n) first_of_kind = c;
  }
  bool counts = n > 1;  // "0,1,2,...": pandas' header for unnamed columns, or data?
  for (std::size_t c = 0; counts && c < n; ++c) counts = first.cells[c] == std::to_string(c);
  if (counts)
    throw Error(at(path, first) + ": cannot tell whether this row is a header or data (CsvOptions::header = detect): "
                "its cells count 0, 1, 2, ... as pandas names unnamed columns. Pass header = CsvHeader::present if it "
                "names the columns, header = CsvHeader::absent if it is data");
  if (text == n) return false;   // all numbers: data
  if (number == n) return true;  // no number: names
  throw Error(at(path, first) + ": cannot tell whether this row is a header or data (CsvOptions::header = detect): " +
              quoted(first, number) + " is a number and " + quoted(first, text) + " is not, while a header has no "
              "numeric cell and a data row only numeric ones. Pass header = CsvHeader::present if the row names the "
              "columns, skip_lines = " + std::to_string(first.line) + " if it is not part of the table (like the count "
              "line '178,13,class_0,...' of sklearn's wine_data.csv), or fix the cell");
}

void check_names(const Row& header, const std::string& path) {
  std::map<std::string, std::size_t> seen;
  for (std::size_t c = 0; c < header.cells.size(); ++c) {
    if (header.cells[c].empty())
      throw Error(at(path, header) + ":" + std::to_string(c + 1) + ": column " + std::to_string(c + 1) +
                  " of the header row has no name; every column needs a unique name (pass header = CsvHeader::absent "
                  "if this row is data)");
    const auto [it, inserted] = seen.emplace(header.cells[c], c);
    if (!inserted)
      throw Error(at(path, header) + ": columns " + std::to_string(it->second + 1) + " and " + std::to_string(c + 1) +
                  " of the header row are both named '" + header.cells[c] + "'; column names must be unique: rename one");
  }
}

std::size_t label_of(const Layout& layout, const Row& first, const CsvOptions& options, const std::string& path) {
  const bool by_name = !options.label_column.empty();
  if (by_name && options.label_index)
    throw Error("load_csv: CsvOptions gives both label_column = '" + options.label_column + "' and label_index = " +
                std::to_string(*options.label_index) + "; give one of them");
  const auto columns = static_cast<std::int64_t>(layout.columns);
  if (options.label_index) {
    const std::int64_t i = *options.label_index;
    if (i < -columns || i >= columns)
      throw Error("load_csv: CsvOptions::label_index = " + std::to_string(i) + ", but " + at(path, first) + " has " +
                  std::to_string(columns) + " columns; expected " + std::to_string(-columns) + " to " +
                  std::to_string(columns - 1) + " (negative counts from the end: -1 is the last column)");
    return static_cast<std::size_t>(i < 0 ? i + columns : i);
  }
  const std::string name = by_name ? options.label_column : "label";
  const std::string what = by_name ? "CsvOptions::label_column = '" + name + "'" : "the default label column 'label'";
  if (!layout.has_header)
    throw Error(options.header == CsvHeader::absent
                    ? "load_csv: " + what + " is a name, but with header = CsvHeader::absent '" + path +
                          "' has no column names; give the label's position with label_index (-1 for the last column)"
                    : at(path, first) + ": the first row is all numbers, so it is data and the file has no header "
                          "(CsvOptions::header = detect), and " + what + " cannot be found by name; give the label's "
                          "position with label_index (-1 for the last column), or pass header = CsvHeader::present "
                          "if this row names the columns");
  for (std::size_t c = 0; c < layout.names.size(); ++c)
    if (layout.names[c] == name) return c;
  std::string names;
  for (const auto& h : layout.names) names += (names.empty() ? "" : ", ") + h;
  throw Error("load_csv: '" + path + "' has no column '" + name + "' (columns: " + names +
              "); set CsvOptions::label_column to one of them, or label_index to a position");
}
}  // namespace

Layout layout_of(const Row& first, const CsvOptions& options, const std::string& path) {
  Layout layout{.has_header = is_header(first, options, path), .columns = first.cells.size(), .first_line = first.line};
  if (layout.has_header) {
    check_names(first, path);
    layout.names = first.cells;
  }
  layout.label = label_of(layout, first, options, path);
  if (layout.columns < 2)
    throw Error("load_csv: " + at(path, first) + " has " + std::to_string(layout.columns) +
                " column; expected at least one feature column besides the label");
  return layout;
}

}  // namespace nnx::csv
