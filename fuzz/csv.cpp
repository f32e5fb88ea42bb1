// Fuzzes the CSV loader: any bytes, under each way of reading the first rows (CsvOptions::header,
// label by name or index, skip_lines), give a Dataset or an nnx::Error naming file, line and column.
// And the promise of issue 12: a file that reads as headerless data never loses its first row to
// header detection (detect gives exactly the rows absent gives, or an error).
#include <nnx/data.hpp>
#include <nnx/error.hpp>

#include <optional>

#include "fuzz_util.hpp"

namespace {
std::optional<nnx::Dataset> load(const std::string& path, const nnx::CsvOptions& options) {
  try {
    nnx::Dataset d = nnx::load_csv(path, options);
    if (d.features.dim(0) != d.labels.dim(0) || d.features.dim(0) == 0) __builtin_trap();
    return d;
  } catch (const nnx::Error&) {
    return std::nullopt;
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using nnx::CsvHeader;
  const std::string path = (fuzz::scratch() / "input.csv").string();
  fuzz::write_file(path, data, size);
  const nnx::DType labels = size % 2 ? nnx::DType::float32 : nnx::DType::int32;
  load(path, {.label_column = "label", .label_dtype = labels});
  load(path, {.header = CsvHeader::present, .skip_lines = 1, .label_index = 0, .label_dtype = labels});
  if (load(path, {.header = CsvHeader::absent, .label_column = "label"})) __builtin_trap();  // a name needs a header
  const auto absent = load(path, {.header = CsvHeader::absent, .label_index = -1, .label_dtype = labels});
  const auto detected = load(path, {.header = CsvHeader::detect, .label_index = -1, .label_dtype = labels});
  if (absent && detected && detected->size() != absent->size()) __builtin_trap();
  return 0;
}
