// Writes a seed corpus for each fuzz target: valid files of every kind, so the fuzzers start from
// inputs that reach deep into the readers.
//   fuzz_seeds OUT_DIR
#include <filesystem>
#include <fstream>
#include <nnx/checkpoint.hpp>
#include <nnx/checkpoint/json.hpp>
#include <nnx/interop/safetensors.hpp>
#include <nnx/interop/torch.hpp>
#include <nnx/models.hpp>

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  const std::filesystem::path out = argv[1];
  for (const char* t : {"array_file", "metadata", "step_scan", "csv", "safetensors"}) std::filesystem::create_directories(out / t);
  // Array files: a small MLP's state, an empty state, every dtype.
  nnx::Rngs rngs(0);
  nnx::models::MLP model({.in = 3, .hidden = {4}, .out = 2, .dropout = 0.1}, rngs);
  nnx::checkpoint::write_array_file((out / "array_file/mlp.nnxa").string(), nnx::state(model));
  nnx::checkpoint::write_array_file((out / "array_file/empty.nnxa").string(), nnx::State());
  nnx::State dtypes;
  dtypes.set(nnx::Path{"f64"}, nnx::Param(nnx::Array::ones({2, 2}, nnx::DType::float64)));
  dtypes.set(nnx::Path{"i32", 0}, nnx::BatchStat(nnx::Array::ones({3}, nnx::DType::int32)));
  dtypes.set(nnx::Path{"i64"}, nnx::Variable(nnx::Kind::from_name("Custom"), nnx::Array::scalar<std::int64_t>(7), {{"k", "v"}}));
  dtypes.set(nnx::Path{"u32"}, nnx::RngCount(nnx::Array::zeros({0}, nnx::DType::uint32)));
  nnx::checkpoint::write_array_file((out / "array_file/dtypes.nnxa").string(), dtypes);
  // safetensors: nnx's own (kinds, odd paths, metadata), a PyTorch convention file, an empty one.
  dtypes.set(nnx::Path{"odd.key", "7"}, nnx::Param(nnx::Array::ones({1}, nnx::DType::float32)));
  nnx::interop::save_safetensors((out / "safetensors/dtypes.safetensors").string(), dtypes, {.metadata = {{"k", "v"}}});
  nnx::interop::save_safetensors((out / "safetensors/mlp.safetensors").string(), nnx::state(model));
  nnx::interop::save_torch_safetensors((out / "safetensors/torch.safetensors").string(), nnx::state(model),
                                       nnx::interop::torch_sequential({.in = 3, .hidden = {4}, .out = 2, .dropout = 0.1}));
  nnx::interop::write_safetensors((out / "safetensors/empty.safetensors").string(), {});
  // Metadata: a real step's.
  const auto dir = out / "scratch";
  std::filesystem::remove_all(dir);
  {
    nnx::checkpoint::CheckpointManager m(dir.string());
    m.save(7, nnx::checkpoint::Composite().add("model", nnx::state(model)).add_json("cfg", std::string("x")), {{"loss", 0.5}});
  }
  std::filesystem::copy_file(dir / "7/_METADATA.json", out / "metadata/step.json");
  std::filesystem::copy_file(dir / "7/cfg.json", out / "metadata/item.json");
  // Step scan: two committed entries with real metadata, one temporary.
  std::ifstream meta(dir / "7/_METADATA.json", std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(meta)), {});
  text = text.substr(0, 255);
  std::ofstream scan(out / "step_scan/two_steps", std::ios::binary);
  for (const std::string name : {"7", "12", "9.nnx-tmp-1-0"}) {
    scan.put(static_cast<char>(1 | 2 | 4));
    scan.put(static_cast<char>(name.size()));
    scan << name;
    scan.put(static_cast<char>(text.size()));
    scan << text;
  }
  std::filesystem::remove_all(dir);
  // CSV.
  std::ofstream(out / "csv/iris.csv") << "a,b,label\n1.5,2,0\n-3e2,4.25,1\n";
  std::ofstream(out / "csv/bad.csv") << "a,label\n1,x\n";
  std::ofstream(out / "csv/wine.csv") << "2,3,class_0,class_1\n14.2,.28,1065,0\n13,1.7,1050,1\n";  // sklearn: a count line
  std::ofstream(out / "csv/digits.csv") << "0.0e+00,5.0e+00,1.0e+00\n1.6e+01,0.0e+00,2.0e+00\n";      // sklearn: no header
  return 0;
}
