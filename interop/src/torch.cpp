// PyTorch's state_dict convention: names, the Linear weight's transposition, BatchNorm's names, and
// the strict import that lists every tensor that does not fit.
#include "nnx/interop/torch.hpp"

#include <algorithm>
#include <cstring>
#include <regex>
#include <set>

namespace nnx::interop {

using checkpoint::CheckpointError;
using checkpoint::ErrorCode;

namespace {

// One parameter of a declared layer: its torch name, its nnx path, whether it is transposed.
struct Slot {
  std::string torch;
  Path nnx;
  bool transpose = false;
};

std::string join(const std::string& prefix, const char* leaf) { return prefix.empty() ? leaf : prefix + "." + leaf; }

std::vector<Slot> slots_of(const TorchConvention& convention) {
  std::vector<Slot> slots;
  for (const TorchLayer& l : convention.layers) {
    if (l.type == TorchLayerType::linear) {
      slots.push_back({join(l.torch, "weight"), l.nnx / PathKey("kernel"), true});
      slots.push_back({join(l.torch, "bias"), l.nnx / PathKey("bias"), false});
    } else {
      slots.push_back({join(l.torch, "weight"), l.nnx / PathKey("scale"), false});
      slots.push_back({join(l.torch, "bias"), l.nnx / PathKey("bias"), false});
      slots.push_back({join(l.torch, "running_mean"), l.nnx / PathKey("mean"), false});
      slots.push_back({join(l.torch, "running_var"), l.nnx / PathKey("var"), false});
    }
  }
  return slots;
}

std::string apply_renames(std::string name, const std::vector<TorchRename>& renames) {
  for (const TorchRename& r : renames) {
    try {
      name = std::regex_replace(name, std::regex(r.pattern, std::regex::ECMAScript), r.replacement);
    } catch (const std::regex_error& e) {
      throw Error("TorchRename: the pattern '" + r.pattern + "' is not a valid regular expression (" + e.what() + ")");
    }
  }
  return name;
}

std::string regex_escape(const std::string& s) {
  std::string out;
  for (const char c : s) {
    if (std::strchr("\\^$.|?*+()[]{}", c)) out += '\\';
    out += c;
  }
  return out;
}

// A 2-d array with its axes swapped (a copy), element by element whatever the dtype.
Array transpose_2d(const Array& a) {
  const std::int64_t rows = a.shape()[0], cols = a.shape()[1];
  Array t = Array::empty(Shape{cols, rows}, a.dtype());
  const std::size_t size = dtype_size(a.dtype());
  const auto* src = static_cast<const unsigned char*>(a.raw_data());
  auto* dst = static_cast<unsigned char*>(t.mutable_raw_data());
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < cols; ++c)
      std::memcpy(dst + static_cast<std::size_t>(c * rows + r) * size, src + static_cast<std::size_t>(r * cols + c) * size, size);
  return t;
}

bool is_rng_state(const Variable& v) { return v.kind().is_a(RngState::static_kind()); }

}  // namespace

TorchRename TorchRename::strip_prefix(const std::string& prefix) {
  std::string pattern = "^";  // appended, not "^" + ...: GCC 12 warns falsely on that (-Wrestrict)
  pattern += regex_escape(prefix);
  return {pattern, ""};
}
TorchRename TorchRename::add_prefix(const std::string& prefix) { return {"^", prefix}; }

TorchConvention torch_sequential(const models::MLPConfig& config) {
  TorchConvention c;
  const std::int64_t stride = 2 + (config.batch_norm ? 1 : 0) + (config.dropout > 0 ? 1 : 0);
  const auto depth = static_cast<std::int64_t>(config.hidden.size());
  for (std::int64_t i = 0; i < depth; ++i) {
    c.layers.push_back({Path{"layers", i}, std::to_string(i * stride), TorchLayerType::linear});
    if (config.batch_norm) c.layers.push_back({Path{"norms", i}, std::to_string(i * stride + 1), TorchLayerType::batch_norm});
  }
  c.layers.push_back({Path{"layers", depth}, std::to_string(depth * stride), TorchLayerType::linear});
  return c;
}

std::vector<NamedTensor> to_torch(const State& state, const TorchConvention& convention) {
  std::map<Path, const Slot*> by_path;
  const std::vector<Slot> slots = slots_of(convention);
  for (const Slot& s : slots) by_path.emplace(s.nnx, &s);
  std::vector<NamedTensor> out;
  for (const auto& [path, var] : state) {
    if (is_rng_state(var)) continue;
    if (var.value.is_abstract())
      throw CheckpointError(ErrorCode::usage, "exporting to PyTorch: '" + path.str() +
                                                  "' is abstract (shape and dtype only); export a concrete State");
    const auto slot = by_path.find(path);
    if (slot == by_path.end()) {
      out.push_back({apply_renames(safetensors_name(path), convention.export_renames), var.value});
      continue;
    }
    if (slot->second->transpose && var.value.ndim() != 2)
      throw Error("exporting to PyTorch: '" + path.str() + "' is " + var.value.shape_dtype().str() +
                  ", a Linear's kernel is 2-d [in, out]; check the TorchConvention's layers");
    out.push_back({apply_renames(slot->second->torch, convention.export_renames),
                   slot->second->transpose ? transpose_2d(var.value) : var.value});
  }
  for (const TorchLayer& l : convention.layers)
    if (l.type == TorchLayerType::batch_norm && state.has_subtree(l.nnx))
      out.push_back({apply_renames(join(l.torch, "num_batches_tracked"), convention.export_renames),
                     Array::scalar<std::int64_t>(convention.num_batches_tracked)});
  return out;
}

State from_torch(const std::vector<NamedTensor>& tensors, const State& target, const TorchConvention& convention,
                 const std::string& source) {
  const std::vector<Slot> slots = slots_of(convention);
  std::map<std::string, const Slot*> by_name;
  std::map<Path, const Slot*> by_path;
  std::set<std::string> dropped;
  for (const Slot& s : slots) {
    by_name.emplace(s.torch, &s);
    by_path.emplace(s.nnx, &s);
  }
  for (const TorchLayer& l : convention.layers)
    if (l.type == TorchLayerType::batch_norm) dropped.insert(join(l.torch, "num_batches_tracked"));

  State out;
  std::vector<Difference> diffs;
  std::set<Path> reported;
  for (const NamedTensor& t : tensors) {
    const std::string name = apply_renames(t.name, convention.import_renames);
    if (dropped.count(name)) continue;  // torch's batch counter: nnx's running averages need none
    const auto slot = by_name.find(name);
    const Path path = slot != by_name.end() ? slot->second->nnx : path_from_safetensors_name(name);
    const bool transpose = slot != by_name.end() && slot->second->transpose;
    const std::string label = "torch '" + t.name + "'" + (name != t.name ? " renamed '" + name + "'" : std::string());
    const std::string found = t.value.shape_dtype().str() + " (" + label + ")";
    if (!target.contains(path) || out.contains(path)) {
      diffs.push_back({path, Difference::What::unexpected, {},
                       found + (out.contains(path) ? ", a second tensor for this path" : ", which maps to no path of the model")});
      reported.insert(path);
      continue;
    }
    const Variable& want = target.at(path);
    Array value = t.value;
    if (transpose) {
      if (value.ndim() != 2) {
        diffs.push_back({path, Difference::What::shape, want.value.shape_dtype().str() + " (a Linear weight [out, in])", found});
        reported.insert(path);
        continue;
      }
      value = transpose_2d(value);
    }
    const std::string found_nnx =
        value.shape_dtype().str() + (transpose ? " (" + label + " " + t.value.shape_dtype().str() + ", transposed)" : " (" + label + ")");
    if (!(value.shape() == want.value.shape())) {
      diffs.push_back({path, Difference::What::shape, want.value.shape_dtype().str(), found_nnx});
      reported.insert(path);
    } else if (value.dtype() != want.value.dtype()) {
      diffs.push_back({path, Difference::What::dtype, want.value.shape_dtype().str(), found_nnx});
      reported.insert(path);
    } else {
      out.set(path, Variable(want.kind(), std::move(value), want.metadata));
    }
  }
  for (const auto& [path, var] : target) {
    if (out.contains(path) || reported.count(path) || is_rng_state(var)) continue;
    const auto slot = by_path.find(path);
    const std::string torch_name =
        slot != by_path.end() ? slot->second->torch : safetensors_name(path);
    diffs.push_back({path, Difference::What::missing,
                     var.value.shape_dtype().str() + " from torch '" + torch_name + "' (after import_renames)", {}});
  }
  if (!diffs.empty()) {
    std::stable_sort(diffs.begin(), diffs.end(), [](const Difference& a, const Difference& b) { return a.path < b.path; });
    throw StructureError("importing PyTorch weights from " + source, std::move(diffs),
                         "check the TorchConvention: its layers (torch_sequential(config) for an nn.Sequential built like "
                         "the MLP: Linear, BatchNorm1d, activation, Dropout per hidden layer) and import_renames (e.g. "
                         "TorchRename::strip_prefix(\"model.\")); a shape that differs is a model of another width");
  }
  return out;
}

void save_torch_safetensors(const std::string& path, const State& state, const TorchConvention& convention) {
  write_safetensors(path, {to_torch(state, convention), {{"format", "pt"}}});
}

State load_torch_safetensors(const std::string& path, const State& target, const TorchConvention& convention) {
  return from_torch(read_safetensors(path).tensors, target, convention, "'" + path + "'");
}

}  // namespace nnx::interop
