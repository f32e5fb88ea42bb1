// The nnx side of tests/interop/torch_interop.py (the proof against real numpy and PyTorch).
//
//   interop_driver values OUT.safetensors OUT.txt     a State of every dtype and odd keys, saved; OUT.txt
//                                                     lists each tensor: name dtype shape hex-bytes
//   interop_driver import WEIGHTS INPUT LOGITS        an MLP (kMlp) gets torch's state_dict from WEIGHTS via
//                                                     the PyTorch convention; eval-mode logits of INPUT's
//                                                     "x" go to LOGITS ("logits")
//   interop_driver export WEIGHTS INPUT LOGITS        an MLP with random weights and BatchNorm statistics is
//                                                     exported for torch to WEIGHTS; its logits to LOGITS
#include <cstdio>
#include <iostream>
#include <nnx/interop/safetensors.hpp>
#include <nnx/interop/torch.hpp>
#include <nnx/models.hpp>
#include <random>
#include <string>

namespace {

// torch: nn.Sequential(Linear(6,16), BatchNorm1d(16), ReLU(), Dropout(0.1),
//                      Linear(16,8), BatchNorm1d(8), ReLU(), Dropout(0.1), Linear(8,3))
const nnx::models::MLPConfig kMlp{.in = 6, .hidden = {16, 8}, .out = 3, .dropout = 0.1, .batch_norm = true};

void fill_random(nnx::Array& a, std::mt19937& rng) {
  auto* bytes = static_cast<unsigned char*>(a.nbytes() ? a.mutable_raw_data() : nullptr);
  for (std::size_t i = 0; i < a.nbytes(); ++i) bytes[i] = static_cast<unsigned char>(rng());
}

int values(const std::string& out, const std::string& listing) {
  std::mt19937 rng(2024);
  nnx::State s;
  const nnx::DType dtypes[] = {nnx::DType::float32, nnx::DType::float64, nnx::DType::int32, nnx::DType::int64,
                               nnx::DType::uint32};
  int k = 0;
  for (const nnx::Path& p : {nnx::Path{"layers", 0, "kernel"}, nnx::Path{"layers", 1, "bias"}, nnx::Path{"heads", "7", "w"},
                             nnx::Path{"dotted.key"}, nnx::Path{"scalar"}, nnx::Path{"empty"}, nnx::Path{"caf\xc3\xa9"},
                             nnx::Path{"big", "z"}}) {
    nnx::Shape shape;
    if (p == nnx::Path{"empty"}) shape = {0, 3};
    else if (p == nnx::Path{"big", "z"}) shape = {7, 9, 2};
    else if (!(p == nnx::Path{"scalar"})) shape = {static_cast<std::int64_t>(k % 3 + 1), 4};
    nnx::Array a = nnx::Array::empty(shape, dtypes[k % 5]);
    fill_random(a, rng);
    s.set(p, k % 2 ? nnx::Variable(nnx::BatchStat(a, {{"note", "odd \"one\""}})) : nnx::Variable(nnx::Param(a)));
    ++k;
  }
  nnx::interop::save_safetensors(out, s, {.metadata = {{"written_by", "interop_driver"}}});
  std::FILE* f = std::fopen(listing.c_str(), "w");
  if (!f) return 1;
  for (const auto& [path, var] : s) {
    std::string shape;
    for (std::size_t i = 0; i < var.value.shape().size(); ++i) shape += (i ? "," : "") + std::to_string(var.value.shape()[i]);
    std::fprintf(f, "%s %s %s ", nnx::interop::safetensors_name(path).c_str(), std::string(nnx::dtype_name(var.value.dtype())).c_str(),
                 shape.empty() ? "-" : shape.c_str());
    const auto* bytes = static_cast<const unsigned char*>(var.value.nbytes() ? var.value.raw_data() : nullptr);
    for (std::size_t i = 0; i < var.value.nbytes(); ++i) std::fprintf(f, "%02x", bytes[i]);
    std::fprintf(f, "%s\n", var.value.nbytes() ? "" : "-");
  }
  return std::fclose(f) == 0 ? 0 : 1;
}

nnx::Array input_batch(const std::string& path) {
  for (const auto& t : nnx::interop::read_safetensors(path).tensors)
    if (t.name == "x") return t.value;
  throw nnx::Error("'" + path + "' holds no tensor 'x'");
}

void write_logits(const std::string& path, nnx::models::MLP& model, const std::string& input) {
  model.eval();
  nnx::interop::write_safetensors(path, {{{"logits", model(input_batch(input))}}, {}});
}

int import_torch(const std::string& weights, const std::string& input, const std::string& logits) {
  nnx::Rngs rngs(0);
  nnx::models::MLP model(kMlp, rngs);
  const auto convention = nnx::interop::torch_sequential(kMlp);
  nnx::update(model, nnx::interop::load_torch_safetensors(weights, nnx::state(model), convention));
  write_logits(logits, model, input);
  return 0;
}

int export_torch(const std::string& weights, const std::string& input, const std::string& logits) {
  nnx::Rngs rngs(5);
  nnx::models::MLP model(kMlp, rngs);
  // BatchNorm's statistics and affine parameters away from their initial 0 / 1, so that the test
  // sees them travel: scale and var in [0.5, 2), bias and mean in [-1, 1).
  std::mt19937 rng(17);
  // [0, 1) from the engine's top 24 bits (std:: distributions differ between standard libraries).
  auto unit = [](std::mt19937& r) { return static_cast<float>(r() >> 8) * (1.0f / 16777216.0f); };
  nnx::State norms = nnx::state(model).subtree(nnx::Path{"norms"});
  for (auto& [path, var] : norms) {
    float* p = var.value.mutable_data<float>();
    const bool positive = path.back() == nnx::PathKey("scale") || path.back() == nnx::PathKey("var");
    for (std::int64_t i = 0; i < var.value.numel(); ++i) p[i] = positive ? 0.5f + 1.5f * unit(rng) : 2.f * unit(rng) - 1.f;
  }
  nnx::State prefixed;
  for (const auto& [path, var] : norms) prefixed.set(nnx::Path{"norms"} / path, var);
  nnx::update(model, prefixed);
  nnx::interop::save_torch_safetensors(weights, nnx::state(model), nnx::interop::torch_sequential(kMlp));
  write_logits(logits, model, input);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::string cmd = argc > 1 ? argv[1] : "";
    if (cmd == "values" && argc == 4) return values(argv[2], argv[3]);
    if (cmd == "import" && argc == 5) return import_torch(argv[2], argv[3], argv[4]);
    if (cmd == "export" && argc == 5) return export_torch(argv[2], argv[3], argv[4]);
    std::cerr << "usage: interop_driver values OUT LISTING | import WEIGHTS INPUT LOGITS | export WEIGHTS INPUT LOGITS\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "interop_driver: " << e.what() << "\n";
    return 1;
  }
}
