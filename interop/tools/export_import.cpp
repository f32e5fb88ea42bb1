// nnx-ckpt export / import (linked into nnx-ckpt from the interop component): a State item of a
// step to safetensors or npz — optionally under PyTorch's names and layouts — and a weights file
// back into a normal committed step.
#include "export_import.hpp"

#include <iostream>
#include <nnx/checkpoint/manager.hpp>
#include <nnx/interop/npz.hpp>
#include <nnx/interop/safetensors.hpp>
#include <nnx/interop/torch.hpp>

namespace nnx_ckpt {

namespace ckpt = nnx::checkpoint;
namespace interop = nnx::interop;

namespace {
std::string format_of(const std::string& format, const std::string& file) {
  if (!format.empty()) return format;
  if (file.size() > 12 && file.compare(file.size() - 12, 12, ".safetensors") == 0) return "safetensors";
  if (file.size() > 4 && file.compare(file.size() - 4, 4, ".npz") == 0) return "npz";
  throw ckpt::CheckpointError(ckpt::ErrorCode::usage, "say --format safetensors or --format npz ('" + file +
                                                           "' ends in neither .safetensors nor .npz)");
}

// The MLP a State was saved from, read off its paths and shapes (models::MLP's layout), for the
// PyTorch convention of the equivalent nn.Sequential.
nnx::models::MLPConfig mlp_config_of(const nnx::State& state) {
  nnx::models::MLPConfig config;
  std::vector<std::int64_t> widths;
  for (std::int64_t i = 0;; ++i) {
    const nnx::Path kernel{"layers", i, "kernel"};
    if (!state.contains(kernel)) break;
    const nnx::Shape& shape = state.at(kernel).value.shape();
    if (shape.size() != 2) break;
    if (i == 0) config.in = shape[0];
    widths.push_back(shape[1]);
  }
  if (widths.empty())
    throw ckpt::CheckpointError(ckpt::ErrorCode::usage, "--torch needs a State saved from nnx::models::MLP (layers/0/kernel ...); "
                                                         "convert other models with nnx::interop::TorchConvention in C++");
  config.out = widths.back();
  widths.pop_back();
  config.hidden = widths;
  config.batch_norm = state.contains(nnx::Path{"norms", 0, "scale"}) || state.contains(nnx::Path{"norms", 0, "mean"});
  bool dropout = false;
  for (const auto& [path, var] : state) dropout = dropout || (path.size() > 0 && !path[0].is_index() && path[0].name() == "dropout");
  config.dropout = dropout ? 0.5 : 0.0;  // only whether a Dropout module exists matters for the names
  config.use_bias = state.contains(nnx::Path{"layers", 0, "bias"});
  return config;
}

}  // namespace

int cmd_export(const ExportArgs& a) {
  const ckpt::CheckpointManager m(a.dir, {.read_only = true});
  const nnx::State state = m.restore_state(a.step, a.item);  // every checksum verified
  const std::string format = format_of(a.format, a.out);
  if (a.torch) {
    const auto convention = interop::torch_sequential(mlp_config_of(state));
    const auto tensors = interop::to_torch(state, convention);
    if (format == "safetensors") {
      interop::save_torch_safetensors(a.out, state, convention);
    } else {
      std::vector<interop::NamedArray> arrays;
      for (const auto& t : tensors) arrays.push_back({t.name, t.value});
      interop::write_npz(a.out, arrays);
    }
    std::cout << "exported " << tensors.size() << " tensors (PyTorch names and layouts) to " << a.out << "\n";
    return 0;
  }
  if (format == "safetensors") interop::save_safetensors(a.out, state);
  else interop::save_npz(a.out, state);
  std::cout << "exported " << state.size() << " arrays of item '" << a.item << "' to " << a.out << "\n";
  return 0;
}

int cmd_import(const ImportArgs& a) {
  const std::string format = format_of(a.format, a.file);
  nnx::State state;
  ckpt::CheckpointManager m(a.dir, {});
  if (a.like) {  // into the structure of an existing step: kinds, dtypes, and torch's layouts
    const nnx::State target = m.restore_state(*a.like, a.item);
    std::vector<interop::NamedTensor> tensors;
    if (format == "safetensors") tensors = interop::read_safetensors(a.file).tensors;
    else for (auto& t : interop::read_npz(a.file)) tensors.push_back({t.name, t.array});
    if (a.torch) {
      state = interop::from_torch(tensors, target, interop::torch_sequential(mlp_config_of(target)), a.file);
      // torch has no RNG state (dropout's key and count): those come from the --like step, so the
      // new step is complete and restores into the same model.
      for (const auto& [path, var] : target)
        if (!state.contains(path)) state.set(path, var);
    } else {
      nnx::State named;
      for (const auto& t : tensors) named.set(interop::path_from_safetensors_name(t.name), nnx::Param(t.value));
      state = target.as_abstract();
      try {
        state.replace_by_pure_dict(nnx::PureDict(named));
      } catch (const nnx::StructureError& e) {
        throw nnx::StructureError("importing '" + a.file + "' into the structure of step " + std::to_string(*a.like) + "'s item '" +
                                      a.item + "'",
                                  e.differences(),
                                  "the file's names (a.b.0 is the path a/b/0) must be exactly the item's paths, with its shapes "
                                  "and dtypes; a PyTorch state_dict of an nnx MLP: pass --torch");
      }
    }
  } else if (a.torch) {
    throw ckpt::CheckpointError(ckpt::ErrorCode::usage, "--torch needs --like STEP: a step of the nnx model to import into");
  } else if (format == "safetensors") {
    state = interop::load_safetensors(a.file);
  } else {
    state = interop::load_npz(a.file);
  }
  m.save(a.step, ckpt::Composite().add(a.item, state), {}, true);  // a normal committed step
  std::cout << "imported " << state.size() << " arrays from " << a.file << " as item '" << a.item << "' of step " << a.step
            << " in " << a.dir << "\n";
  return 0;
}

}  // namespace nnx_ckpt
