// Lesson 10: weights across borders — start from PyTorch weights, fine-tune in C++ with
// checkpoints, hand the result back to PyTorch.
//
//   build/bin/10_from_pytorch --dir /tmp/ft [--weights torch.safetensors] [--out finetuned.safetensors]
//                             [--logits logits.npz] [--steps 300]
//
// The PyTorch side (examples/pytorch_story.py runs it all, and ctest runs that when Debian's
// python3-torch is installed):
//   model = nn.Sequential(nn.Linear(2, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.1),
//                         nn.Linear(32, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.1), nn.Linear(32, 2))
//   ... train ...; write model.state_dict() as safetensors          -> --weights
//   model.load_state_dict(<--out read back>, strict=True)           -> nnx's fine-tuned weights in torch
//
// nnx::models::MLP with the same configuration is that nn.Sequential; interop::torch_sequential
// says which module is which and transposes Linear weights ([out, in] in torch, kernel [in, out]
// in nnx). Without --weights the lesson writes a stand-in first (its own initial weights, as
// PyTorch would save them), so it runs anywhere.
#include <CLI/CLI.hpp>
#include <boost/filesystem.hpp>
#include <iostream>
#include <nnx/checkpoint.hpp>
#include <nnx/interop/npz.hpp>
#include <nnx/interop/torch.hpp>
#include <nnx/models.hpp>

#include "lesson.hpp"

namespace ckpt = nnx::checkpoint;
namespace interop = nnx::interop;

int run(int argc, char** argv) {
  CLI::App app{"Lesson 10: PyTorch weights in, fine-tuned in C++ with checkpoints, back out to PyTorch"};
  std::string dir, weights, out, logits;
  std::int64_t steps = 300;
  app.add_option("--dir", dir, "checkpoint directory (default: a fresh one in the temporary directory)");
  app.add_option("--weights", weights, "a PyTorch state_dict as safetensors (default: a stand-in)");
  app.add_option("--out", out, "where to write the fine-tuned weights for PyTorch (default: DIR/finetuned.safetensors)");
  app.add_option("--logits", logits, "also write predictions on the first 64 validation rows (npz: x, logits)");
  app.add_option("--steps", steps, "fine-tune until this step")->check(CLI::Range(std::int64_t{1}, std::int64_t{1'000'000}));
  CLI11_PARSE(app, argc, argv);
  if (dir.empty()) {
    dir = (boost::filesystem::temp_directory_path() / "nnx-lesson-10").string();
    boost::filesystem::remove_all(dir);
  }
  boost::filesystem::create_directories(dir);
  if (out.empty()) out = dir + "/finetuned.safetensors";

  const nnx::models::MLPConfig config{.in = 2, .hidden = {32, 32}, .out = 2, .dropout = 0.1, .batch_norm = true};
  const interop::TorchConvention torch = interop::torch_sequential(config);
  nnx::Rngs rngs({{"params", 0}, {"dropout", 1}, {"data", 2}});
  nnx::models::MLP model(config, rngs);
  const auto [train, validation] = nnx::datasets::two_spirals(2000, 0.05, nnx::key_from_seed(3)).split(0.8);

  lesson::section("1. PyTorch's weights into the nnx model");
  if (weights.empty()) {
    weights = dir + "/standin_torch.safetensors";
    interop::save_torch_safetensors(weights, nnx::state(model), torch);
    std::cout << "  no --weights: wrote a stand-in, " << weights << "\n";
  }
  // Strict: every torch tensor must find its nnx path with the right shape, and every Param and
  // BatchStat of the model must be supplied; otherwise one error lists every tensor that does not fit.
  const nnx::State imported = interop::load_torch_safetensors(weights, nnx::state(model), torch);
  nnx::update(model, imported);
  const double before = nnx::evaluate(model, validation, nnx::softmax_cross_entropy).accuracy;
  std::cout << "  imported " << weights << "; validation accuracy on this program's data: " << before
            << " (weights trained elsewhere: fine-tuning adapts them)\n";
  // 3 Linear (kernel, bias) + 2 BatchNorm (scale, bias, mean, var): 14; num_batches_tracked is dropped.
  bool holds = imported.filter(nnx::Any(nnx::Param{}, nnx::BatchStat{})).size() == 14;
  for (const auto& [path, var] : imported) holds = holds && nnx::array_equal(nnx::state(model).at(path).value, var.value);
  lesson::claim(holds, "the model holds all 14 of PyTorch's tensors (its Linear weights transposed)");

  lesson::section("2. Fine-tune in C++, with checkpoints (kill it and run it again: it resumes)");
  nnx::Optimizer optimizer(model, nnx::optim::adam(3e-3));
  nnx::DataLoader loader(train, 64, rngs);
  ckpt::CheckpointManager manager(dir + "/checkpoints", {.max_to_keep = 2, .best_metric = "val_accuracy"});
  ckpt::Resumable run(manager);
  run.add("model", model).add("optimizer", optimizer).add("data", loader);
  const std::int64_t start = run.resume_or_start().value_or(0);
  if (start) std::cout << "  resumed from step " << start << "\n";
  for (std::int64_t step = start + 1; step <= steps; ++step) {
    const nnx::Batch b = loader.next();
    nnx::train_step(model, optimizer, [&](nnx::models::MLP& m) { return nnx::softmax_cross_entropy(m(b.x), b.y); });
    if (step % 100 == 0 || step == steps) {
      const nnx::Evaluation val = nnx::evaluate(model, validation, nnx::softmax_cross_entropy);
      run.save(step, {{"val_accuracy", val.accuracy}, {"val_loss", val.loss}}, step == steps);
    }
  }
  manager.wait_until_finished();
  const double after = nnx::evaluate(model, validation, nnx::softmax_cross_entropy).accuracy;
  std::cout << "  validation accuracy after fine-tuning to step " << steps << ": " << after << "\n";
  lesson::claim(after >= before - 0.02, "fine-tuning kept or improved the imported model");

  lesson::section("3. Back to PyTorch");
  interop::save_torch_safetensors(out, nnx::state(model), torch);
  const nnx::State again = interop::load_torch_safetensors(out, nnx::state(model), torch);
  bool same = true;
  for (const auto& [path, var] : again) same = same && nnx::array_equal(var.value, nnx::state(model).at(path).value);
  lesson::claim(same, "what PyTorch will read is the fine-tuned model, exactly (" + out + ")");
  if (!logits.empty()) {
    const nnx::Array x = validation.rows(0, 64).features;
    interop::write_npz(logits, {{"x", x}, {"logits", nnx::predict(model, x)}});
    std::cout << "  predictions on 64 validation rows: " << logits << "\n";
  }
  std::cout << "\nIn Python: model.load_state_dict({k: torch.from_numpy(v) for k, v in <read " << out
            << ">.items()}, strict=True); model.eval()\n";
  return 0;
}

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "10_from_pytorch: " << e.what() << "\n";
    return 1;
  }
}
