// nnx-ckpt export / import: the interop component's subcommands of nnx-ckpt (linked into it by
// interop/CMakeLists.txt, so the checkpoint component stays free of interop's dependencies).
//
//   nnx-ckpt export DIR [--step N] [--item model] [--format safetensors|npz] [--torch] -o FILE
//   nnx-ckpt import FILE --into DIR --step N [--item model] [--format ...] [--like STEP [--torch]]
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace nnx_ckpt {

struct ExportArgs {
  std::string dir;
  std::optional<std::int64_t> step;  // default: the latest
  std::string item = "default";
  std::string format;                // "safetensors" or "npz"; empty: from the file name
  bool torch = false;                // PyTorch's names and layouts (a models::MLP state as nn.Sequential)
  std::string out;
};

struct ImportArgs {
  std::string file;
  std::string dir;
  std::int64_t step = 0;
  std::string item = "default";
  std::string format;
  std::optional<std::int64_t> like;  // a step of DIR whose item gives the structure (kinds, dtypes)
  bool torch = false;                // the file holds a torch state_dict (needs like)
};

int cmd_export(const ExportArgs& args);
int cmd_import(const ImportArgs& args);

}  // namespace nnx_ckpt
