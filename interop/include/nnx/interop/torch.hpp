// nnx/interop/torch.hpp — PyTorch's state_dict names and layouts, to and from an nnx State.
//
//   // torch: nn.Sequential(Linear(4,32), BatchNorm1d(32), ReLU(), Dropout(0.1), Linear(32,2))
//   nnx::models::MLPConfig config{.in = 4, .hidden = {32}, .out = 2, .dropout = 0.1, .batch_norm = true};
//   auto convention = nnx::interop::torch_sequential(config);      // layers/0 <-> "0", norms/0 <-> "1", layers/1 <-> "4"
//   nnx::State weights = nnx::interop::load_torch_safetensors("torch.safetensors", nnx::state(model), convention);
//   nnx::update(model, weights);
//   nnx::interop::save_torch_safetensors("for_torch.safetensors", nnx::state(model), convention);
//   // python: model.load_state_dict(safetensors.torch.load_file("for_torch.safetensors"))
//
// Layouts. A Linear is kernel [in, out] in nnx and weight [out, in] in torch: transposed both ways;
// bias as is. A BatchNorm's scale / bias / mean / var are torch's weight / bias / running_mean /
// running_var. torch's num_batches_tracked (int64 scalar) has no nnx counterpart: it is dropped on
// import, and written on export as TorchConvention::num_batches_tracked (0 unless you say: torch
// uses it only when momentum=None). Everything else keeps its values and is named by the
// safetensors rule (keys joined with '.'), after the rename rules.
//
// Momentum is spelled the other way round: torch's BatchNorm1d(momentum=m) updates running averages
// as nnx's BatchNorm with momentum 1 - m (torch's default 0.1 is nnx 0.9; nnx's default 0.99 is
// torch 0.01). It is configuration, not state: set it on the side that trains on. epsilon is 1e-5 on
// both sides by default; evaluation (model.eval()) computes the same function.
//
// Strict both ways. Importing, the target (nnx::state(model), abstract allowed) says which paths,
// kinds, shapes and dtypes to expect: a torch tensor that maps to no path of the target, a shape or
// dtype that does not fit, and a Param or BatchStat of the target that no tensor supplied are ONE
// nnx::StructureError listing every such tensor (with its torch name). RNG state (RngState kinds:
// dropout's key and count) is not expected from torch, whose state_dict has none, and is not exported.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nnx/interop/safetensors.hpp"
#include "nnx/models/mlp.hpp"

namespace nnx::interop {

enum class TorchLayerType { linear, batch_norm };

// One module: the nnx path of a Linear or BatchNorm and the torch prefix of its nn.Linear or
// nn.BatchNorm1d ("0", "encoder.fc1").
struct TorchLayer {
  Path nnx;
  std::string torch;
  TorchLayerType type;
};

// A regex replacement (ECMAScript, std::regex_replace, every match) applied to a torch name.
struct TorchRename {
  std::string pattern;
  std::string replacement;
  static TorchRename strip_prefix(const std::string& prefix);  // "model." -> "" at the start only
  static TorchRename add_prefix(const std::string& prefix);
};

struct TorchConvention {
  std::vector<TorchLayer> layers;
  // Applied in order to every torch name when importing, before it is matched (e.g. strip "model.").
  std::vector<TorchRename> import_renames;
  // Applied in order to every torch name when exporting, after the layers' names are made.
  std::vector<TorchRename> export_renames;
  std::int64_t num_batches_tracked = 0;  // the value exported for every BatchNorm
};

// The layout of an nn.Sequential equal to models::MLP(config): per hidden layer i, Linear, then
// BatchNorm1d when config.batch_norm, the activation, then Dropout when config.dropout > 0; then the
// output Linear. layers/i and norms/i map to those modules' indices.
TorchConvention torch_sequential(const models::MLPConfig& config);

// The state's tensors under torch names and layouts (RngState variables left out).
std::vector<NamedTensor> to_torch(const State& state, const TorchConvention& convention);
// The torch tensors as a State of the target's paths, kinds and metadata (see above for the rules).
// `source` names the origin in messages (a file name).
State from_torch(const std::vector<NamedTensor>& tensors, const State& target, const TorchConvention& convention,
                 const std::string& source = "PyTorch tensors");

// The same through a safetensors file; export writes the metadata entry {"format": "pt"} as
// Hugging Face's PyTorch files do.
void save_torch_safetensors(const std::string& path, const State& state, const TorchConvention& convention);
State load_torch_safetensors(const std::string& path, const State& target, const TorchConvention& convention);

}  // namespace nnx::interop
