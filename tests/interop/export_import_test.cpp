// nnx-ckpt export / import, run as a separate process: every way out and back in gives the same
// values (the checkpoint's own digest), and what does not fit is refused, naming it.
#include <doctest/doctest.h>

#include <nnx/checkpoint.hpp>
#include <nnx/models.hpp>
#include <string>
#include <vector>

#include "../checkpoint/subprocess.hpp"
#include "fixtures.hpp"

using namespace interop_test;

namespace {
nnx_test::Finished nnx_ckpt(std::vector<std::string> args) {
  args.insert(args.begin(), NNX_CKPT_TOOL);
  return nnx_test::run(args);
}
}  // namespace

TEST_CASE("nnx-ckpt export then import: safetensors, npz and PyTorch's layout give back the saved values") {
  TempDir dir("nnx-export-import");
  nnx::Rngs rngs(3);
  nnx::models::MLP model({.in = 3, .hidden = {8, 8}, .out = 2, .dropout = 0.2, .batch_norm = true}, rngs);
  {
    ckpt::CheckpointManager m(dir.string());
    m.save(1, ckpt::Composite().add("model", nnx::state(model)));
  }
  struct Way {
    const char* file;
    std::vector<std::string> export_flags, import_flags;
    bool kinds_kept;  // without --like, npz has no place for kinds: Params
  };
  const std::vector<Way> ways = {
      {"m.safetensors", {}, {}, true},
      {"m.npz", {}, {}, false},
      {"m.npz", {}, {"--like", "1"}, true},
      {"t.safetensors", {"--torch"}, {"--like", "1", "--torch"}, true},
      {"t.npz", {"--torch"}, {"--like", "1", "--torch"}, true},
  };
  std::int64_t step = 10;
  for (const Way& w : ways) {
    CAPTURE(std::string(w.file));
    CAPTURE(w.import_flags.size());
    std::vector<std::string> ex = {"export", dir.string(), "--item", "model", "-o", dir.file(w.file)};
    ex.insert(ex.end(), w.export_flags.begin(), w.export_flags.end());
    const auto e = nnx_ckpt(ex);
    REQUIRE_MESSAGE(e.exit_code() == 0, e.out << e.err);
    std::vector<std::string> im = {"import", dir.file(w.file), "--into", dir.string(), "--step", std::to_string(++step), "--item", "model"};
    im.insert(im.end(), w.import_flags.begin(), w.import_flags.end());
    const auto i = nnx_ckpt(im);
    REQUIRE_MESSAGE(i.exit_code() == 0, i.out << i.err);
    ckpt::CheckpointManager reader(dir.string(), {.read_only = true});
    const State saved = reader.restore_state(1, "model"), back = reader.restore_state(step, "model");
    if (w.kinds_kept) {
      CHECK(nnx::state_equal(back, saved));
    } else {  // the same paths and values, every one a Param
      REQUIRE(back.size() == saved.size());
      for (const auto& [path, var] : saved) CHECK(nnx::array_equal(back.at(path).value, var.value));
    }
    // The imported step restores into the model it came from (strict) when kinds were kept.
    if (w.kinds_kept) CHECK_NOTHROW(nnx::update(model, reader.restore(step, "model", nnx::state(model))));
  }
  // A PyTorch file imported without --torch: refused, naming the torch names that fit nothing.
  const auto wrong = nnx_ckpt({"import", dir.file("t.safetensors"), "--into", dir.string(), "--step", "99", "--item", "model", "--like", "1"});
  CHECK(wrong.exit_code() == 2);
  CHECK_CONTAINS(wrong.err, "0/weight: unexpected");
  CHECK_CONTAINS(wrong.err, "layers/0/kernel: missing");
  CHECK_CONTAINS(wrong.err, "pass --torch");
  const auto no_like = nnx_ckpt({"import", dir.file("t.safetensors"), "--into", dir.string(), "--step", "99", "--torch"});
  CHECK(no_like.exit_code() == 2);
  CHECK_CONTAINS(no_like.err, "--torch needs --like STEP");
  CHECK_FALSE(ckpt::CheckpointManager(dir.string(), {.read_only = true}).is_committed(99));
}
