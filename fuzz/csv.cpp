// Fuzzes the CSV loader: any bytes give a Dataset or an nnx::Error naming file, line and column.
#include <nnx/data.hpp>
#include <nnx/error.hpp>

#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto path = fuzz::scratch() / "input.csv";
  fuzz::write_file(path, data, size);
  for (nnx::DType labels : {nnx::DType::int32, nnx::DType::float32}) {
    try {
      nnx::Dataset d = nnx::load_csv(path.string(), {.label_column = "label", .label_dtype = labels});
      if (d.features.dim(0) != d.labels.dim(0)) __builtin_trap();
    } catch (const nnx::Error&) {
    }
  }
  return 0;
}
