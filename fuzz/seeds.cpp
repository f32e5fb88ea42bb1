// Writes a seed corpus for each fuzz target: valid files of every kind, so the fuzzers start from
// inputs that reach deep into the readers, and runs (fuzz::expand) that reach deep JSON nesting.
//   fuzz_seeds OUT_DIR
#include <cereal/types/map.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>
#include <filesystem>
#include <fstream>
#include <nnx/checkpoint.hpp>
#include <nnx/checkpoint/json.hpp>
#include <nnx/checkpoint/metrics_log.hpp>
#include <nnx/interop/npz.hpp>
#include <nnx/interop/safetensors.hpp>

#include "../distributed/src/state_bytes.hpp"
#include "state_bytes_target.hpp"
#include <nnx/interop/torch.hpp>
#include <nnx/models.hpp>

#include "fuzz_util.hpp"
#include "step_dir_input.hpp"

namespace {
namespace fs = std::filesystem;
namespace sd = fuzz::step_dir;

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

void write(const fs::path& p, const std::string& bytes) { std::ofstream(p, std::ios::binary) << bytes; }

// The step directory `step_dir` (step 7) as a step_dir input: every file as a record.
sd::Input as_input(const fs::path& step_dir, std::uint8_t mode) {
  sd::Input in{mode, 7, {}};
  for (std::uint8_t id = 0; id < 8; ++id)
    if (fs::exists(step_dir / sd::kNames[id])) in.entries.push_back({id, read(step_dir / sd::kNames[id])});
  return in;
}

// Replaces the record of file `id` with `bytes` put there as `kind`.
sd::Input with(sd::Input in, std::uint8_t id, sd::EntryKind kind, const std::string& bytes = "") {
  std::erase_if(in.entries, [&](const sd::Entry& e) { return e.id == id; });
  in.entries.push_back({static_cast<std::uint8_t>(id | static_cast<std::uint8_t>(kind) << 3), bytes});
  return in;
}

// Step directories the library wrote, as they are, with the manifest recomputed, with JSON nesting
// runs, in format 1, and with special files in place of some files.
void step_dir_seeds(const fs::path& out, const fs::path& step_dir) {
  using enum sd::EntryKind;
  const std::uint8_t fix = sd::kRecommit | sd::kFixIndexChecksum, deep = fix | sd::kExpandJson;
  const sd::Input as_saved = as_input(step_dir, 0);
  const std::string item_head = R"({"format": "nnx-json-item", "format_version": 1, "value": )";
  std::map<std::string, sd::Input> seeds = {
      {"as_saved", as_saved},
      {"recommitted", as_input(step_dir, fix)},
      {"deep_item", with(as_input(step_dir, deep), 3, file, item_head + fuzz::run("[", 140) + "0")},
      {"item_at_depth_bound", with(as_input(step_dir, deep), 3, file, item_head + std::string(255, '[') + "0" + std::string(255, ']') + "}")},
      {"deep_metadata", with(as_input(step_dir, deep), 0, file, R"({"format": "nnx-checkpoint", "metrics": )" + fuzz::run("{\"a\":", 140))},
      {"format_1", with(with(as_saved, 1, file, "nnx-checkpoint 1 step 7\n"), 0, file, [&] {
         std::string m = read(step_dir / "_METADATA.json");
         m.replace(m.find("\"format_version\": 2"), 19, "\"format_version\": 1");
         return m;
       }())},
      {"fifo_array", with(as_saved, 2, fifo)},
      {"directory_commit", with(as_saved, 1, directory)},
      {"symlink_metadata", with(as_input(step_dir, fix), 0, symlink)},
  };
  for (const auto& [name, in] : seeds) write(out / name, sd::encode(in));
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  const std::filesystem::path out = argv[1];
  for (const char* t : {"array_file", "metadata", "step_scan", "csv", "step_dir", "safetensors", "npz", "metrics_log",
                        "state_bytes"}) {
    std::filesystem::remove_all(out / t);  // written afresh: the array files are never overwritten
    std::filesystem::create_directories(out / t);
  }
  // state_bytes: what rank 0 sends for the fuzzer's target, and that with the values cut short.
  const std::vector<std::uint8_t> sent = nnx::distributed::detail::state_to_bytes(fuzz::state_bytes_target());
  write(out / "state_bytes/sent", std::string(sent.begin(), sent.end()));
  write(out / "state_bytes/short", std::string(sent.begin(), sent.end() - 5));
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
  // npz: every dtype under flat names, and an empty archive.
  std::vector<nnx::interop::NamedArray> npz;
  for (const auto& [path, var] : dtypes) npz.push_back({nnx::interop::safetensors_name(path), var.value});
  nnx::interop::write_npz((out / "npz/dtypes.npz").string(), npz);
  nnx::interop::write_npz((out / "npz/empty.npz").string(), {});
  // The metrics log: what Resumable writes.
  {
    nnx::checkpoint::MetricsLog log((out / "metrics_log").string(), [] { return std::int64_t{1764500000000}; });
    log.append(20, {{"train_loss", 0.6374882459640503}});
    log.append(200, {{"val_accuracy", 0.9}, {"val_loss", 0.25}}, "save");
    log.restart_at(200);
  }
  // Metadata: a real step's.
  const auto dir = out / "scratch";
  std::filesystem::remove_all(dir);
  {
    nnx::checkpoint::CheckpointManager m(dir.string());
    m.save(7, nnx::checkpoint::Composite().add("model", nnx::state(model)).add_json("cfg", std::string("x")), {{"loss", 0.5}});
  }
  std::filesystem::copy_file(dir / "7/_METADATA.json", out / "metadata/step.json");
  std::filesystem::copy_file(dir / "7/cfg.json", out / "metadata/item.json");
  // Deep nesting and long runs, through fuzz::expand: 140,000 levels, just past the 256 allowed.
  write(out / "metadata/deep_arrays", fuzz::run("[", 140));
  write(out / "metadata/deep_item", R"({"format": "nnx-json-item", "format_version": 1, "value": )" + fuzz::run("{\"a\":", 140));
  write(out / "metadata/depth_257", std::string(257, '[') + std::string(257, ']'));
  write(out / "metadata/long_number", R"({"format": "nnx-checkpoint", "format_version": 2, "step": 1)" + fuzz::run("0", 2) + "}");
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
  // Whole step directories: a model, a JSON item and metrics.
  {
    nnx::checkpoint::CheckpointManager m(dir.string());
    m.save(7, nnx::checkpoint::Composite().add("model", nnx::state(model)).add_json("progress", std::map<std::string, std::vector<int>>{{"epochs", {1, 2}}}),
           {{"loss", 0.25}});
  }
  step_dir_seeds(out / "step_dir", dir / "7");
  std::filesystem::remove_all(dir);
  // CSV.
  std::ofstream(out / "csv/iris.csv") << "a,b,label\n1.5,2,0\n-3e2,4.25,1\n";
  std::ofstream(out / "csv/bad.csv") << "a,label\n1,x\n";
  std::ofstream(out / "csv/wine.csv") << "2,3,class_0,class_1\n14.2,.28,1065,0\n13,1.7,1050,1\n";  // sklearn: a count line
  std::ofstream(out / "csv/digits.csv") << "0.0e+00,5.0e+00,1.0e+00\n1.6e+01,0.0e+00,2.0e+00\n";      // sklearn: no header
  return 0;
}
