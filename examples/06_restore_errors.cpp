// Lesson 06: when the target does not match the checkpoint — the error, and the fix for each case.
//
// Restore is strict: one error lists EVERY missing path, unexpected path, and kind/shape/dtype
// difference, so you see the whole problem at once. Nothing is zero-filled, nothing loads silently.
#include <boost/filesystem.hpp>
#include <nnx/checkpoint.hpp>
#include <nnx/nnx.hpp>

#include "lesson.hpp"

namespace ckpt = nnx::checkpoint;

namespace {
// Version 1 of a model, as saved; version 2 renamed `out` to `head`.
struct Classifier : nnx::Module {
  nnx::Linear body, out;
  Classifier() = default;  // for merge
  explicit Classifier(nnx::Rngs& r, nnx::DType dtype = nnx::DType::float32, std::int64_t width = 8)
      : body(4, width, r, {.dtype = dtype}), out(width, 2, r, {.dtype = dtype}) {}
  NNX_FIELDS(body, out)
};
struct ClassifierV2 : nnx::Module {
  nnx::Linear body, head;
  ClassifierV2() = default;
  explicit ClassifierV2(nnx::Rngs& r) : body(4, 8, r), head(8, 2, r) {}
  NNX_FIELDS(body, head)
};

template <class F> auto target_of(F make) { return std::get<1>(nnx::split(nnx::eval_shape(make))); }

// Restores into `target` and shows the error; returns it (the lesson checks what it names).
std::string attempt(const ckpt::CheckpointManager& m, const nnx::State& target, const ckpt::RestoreOptions& o = {}) {
  try {
    m.restore(m.latest_step(), target, o);
    return "";
  } catch (const nnx::Error& e) {
    std::cout << "  error: " << e.what() << "\n";
    return e.what();
  }
}
bool has(const std::string& text, const char* part) { return text.find(part) != std::string::npos; }
}  // namespace

int main() {
  const std::string dir = (boost::filesystem::temp_directory_path() / "nnx-lesson-06").string();
  boost::filesystem::remove_all(dir);
  nnx::Rngs rngs(0);
  Classifier saved(rngs);
  {
    ckpt::CheckpointManager writer(dir);
    writer.save(1, nnx::state(saved));
  }
  ckpt::CheckpointManager m(dir, {.read_only = true});

  lesson::section("another width");
  std::string e = attempt(m, target_of([] {
    nnx::Rngs r(0);
    return Classifier(r, nnx::DType::float32, 16);
  }));
  lesson::claim(has(e, "body/kernel: expected float32[4,16], got float32[4,8]") && has(e, "out/kernel: expected float32[16,2]"),
                "every differing path is named, with what was expected and what was found");

  lesson::section("a missing layer: the checkpoint has `out`, the target does not -> partial restore");
  nnx::State body_only = target_of([] {
    nnx::Rngs r(0);
    return Classifier(r);
  }).filter(nnx::PathContains("body"));
  e = attempt(m, body_only);
  lesson::claim(has(e, "out/bias: unexpected") && has(e, "out/kernel: unexpected"), "the extra saved paths are listed");
  lesson::claim(attempt(m, body_only, {.partial = true}).empty(), "fix: partial = true restores just the target's paths");

  lesson::section("a renamed layer: `out` became `head` -> edit the pure dict");
  auto [graphdef, v2] = nnx::split(nnx::eval_shape([] {
    nnx::Rngs r(0);
    return ClassifierV2(r);
  }));
  e = attempt(m, v2);
  lesson::claim(has(e, "head/kernel: missing") && has(e, "out/kernel: unexpected"), "missing and unexpected, side by side");
  nnx::PureDict dict = m.restore_pure_dict();
  dict["head"] = dict.at("out");
  dict.erase("out");
  v2.replace_by_pure_dict(dict);
  ClassifierV2 model_v2 = nnx::merge(graphdef, v2);
  lesson::claim(nnx::array_equal(model_v2.head.kernel.value, saved.out.kernel.value), "fix: the renamed dict restores into v2");

  lesson::section("another dtype -> cast only when asked");
  nnx::State f64 = target_of([] {
    nnx::Rngs r(0);
    return Classifier(r, nnx::DType::float64);
  });
  e = attempt(m, f64);
  lesson::claim(has(e, "body/kernel: expected float64[4,8], got float32[4,8]"), "the dtype difference is named");
  nnx::State cast = m.restore(m.latest_step(), f64, {.cast_dtypes = true});
  lesson::claim(cast.at("body/kernel").value.dtype() == nnx::DType::float64, "fix: cast_dtypes = true converts");

  lesson::section("the wrong kind of target: BatchStats where Params were saved");
  nnx::State wrong_kind = target_of([] {
    nnx::Rngs r(0);
    return Classifier(r);
  });
  for (auto& [path, var] : wrong_kind) var = nnx::BatchStat(var.value, var.metadata);
  e = attempt(m, wrong_kind);
  lesson::claim(has(e, "expected kind BatchStat, got Param"), "kinds are checked too: a target is more than shapes");
  boost::filesystem::remove_all(dir);
  return 0;
}
