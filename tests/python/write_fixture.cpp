// Writes a checkpoint for the Python reader's test: step 7 of DIR holds an MLP (item "model"), a
// State of every dtype with integer keys and formula values (item "formula"), and a JSON item; the
// MLP's arrays are also written raw to DIR-raw/<path with / as .>.bin, for a bitwise comparison.
#include <fstream>
#include <iostream>
#include <nnx/checkpoint.hpp>
#include <nnx/models.hpp>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: python_reader_fixture DIR\n";
    return 2;
  }
  const std::string dir = argv[1];
  nnx::Rngs rngs(42);
  nnx::models::MLP model({.in = 3, .hidden = {5, 4}, .out = 2, .batch_norm = true}, rngs);
  nnx::State formula;
  // Values: element i of each array is i * 0.5 - 3 (floats) or i * 7 - 20 (signed) or i * 3 (unsigned).
  const auto fill = [](nnx::DType dtype, nnx::Shape shape, double scale, double shift) {
    const std::int64_t n = nnx::shape_numel(shape);
    nnx::Array flat = nnx::Array::zeros({n}, nnx::DType::float64);
    for (std::int64_t i = 0; i < n; ++i) flat.mutable_data<double>()[i] = static_cast<double>(i) * scale + shift;
    return flat.astype(dtype).reshape(shape);
  };
  formula.set(nnx::Path{"f32", 0}, nnx::Param(fill(nnx::DType::float32, {2, 3}, 0.5, -3)));
  formula.set(nnx::Path{"f64", 1}, nnx::BatchStat(fill(nnx::DType::float64, {4}, 0.5, -3)));
  formula.set(nnx::Path{"i32"}, nnx::Param(fill(nnx::DType::int32, {3, 1}, 7, -20)));
  formula.set(nnx::Path{"i64"}, nnx::OptState(fill(nnx::DType::int64, {}, 7, -20)));
  formula.set(nnx::Path{"u32"}, nnx::RngCount(fill(nnx::DType::uint32, {5}, 3, 0)));
  formula.set(nnx::Path{"empty"}, nnx::Param(fill(nnx::DType::float32, {0, 3}, 1, 0)));
  nnx::checkpoint::CheckpointManager manager(dir);
  manager.save(7, nnx::checkpoint::Composite()
                      .add("model", nnx::state(model))
                      .add("formula", formula)
                      .add("note", nnx::checkpoint::JsonItem::from_text(
                                       R"({"format": "nnx-json-item", "format_version": 1, "value": {"epoch": 3}})")),
               {{"val_accuracy", 0.75}});
  for (const auto& [path, var] : nnx::state(model)) {
    std::string name = path.str();
    for (char& c : name)
      if (c == '/') c = '.';
    std::ofstream(dir + "-raw/" + name + ".bin", std::ios::binary)
        .write(static_cast<const char*>(var.value.raw_data()), static_cast<std::streamsize>(var.value.nbytes()));
  }
  return 0;
}
