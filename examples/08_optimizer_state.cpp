// Lesson 08: training, and the optimizer's state — keyed by parameter path, saved, restored.
//
// NNX keeps the loop in your code: value_and_grad gives the loss and a State of gradients with the
// Params' paths; the Optimizer applies an optax-style transformation. Its state (Adam's moments,
// the step) is a State keyed by parameter path — opt_state/mu/layers/0/kernel — never by position
// or pointer as in libtorch, so it restores into a model whose fields are declared in another order.
#include <boost/filesystem.hpp>
#include <nnx/checkpoint.hpp>
#include <nnx/nnx.hpp>

#include "lesson.hpp"

namespace ckpt = nnx::checkpoint;

namespace {
// The same model written twice, fields declared in a different order.
struct TwoLayers : nnx::Module {
  nnx::Linear hidden, output;
  TwoLayers() = default;  // for merge
  explicit TwoLayers(nnx::Rngs& r) : hidden(2, 32, r), output(32, 2, r) {}
  nnx::Array operator()(const nnx::Array& x) { return output(nnx::relu(hidden(x))); }
  NNX_FIELDS(hidden, output)
};
struct TwoLayersReordered : nnx::Module {
  nnx::Linear output, hidden;  // declared (and constructed) in the other order
  TwoLayersReordered() = default;
  explicit TwoLayersReordered(nnx::Rngs& r) : output(32, 2, r), hidden(2, 32, r) {}
  nnx::Array operator()(const nnx::Array& x) { return output(nnx::relu(hidden(x))); }
  NNX_FIELDS(output, hidden)
};

template <class M> nnx::Array train(M& model, nnx::Optimizer& opt, nnx::DataLoader& loader, int steps) {
  nnx::Array loss;
  for (int i = 0; i < steps; ++i) {
    const nnx::Batch b = loader.next();
    auto [value, grads] = nnx::value_and_grad(model, [&](M& m) { return nnx::softmax_cross_entropy(m(b.x), b.y); });
    opt.update(model, std::move(grads));
    loss = value;
  }
  return loss;
}
}  // namespace

int main() {
  const std::string dir = (boost::filesystem::temp_directory_path() / "nnx-lesson-08").string();
  boost::filesystem::remove_all(dir);
  const nnx::Dataset data = nnx::datasets::moons(1000, 0.1, nnx::key_from_seed(3));

  lesson::section("a training loop: forward, backward, update");
  nnx::Rngs rngs({{"params", 0}, {"data", 1}});
  TwoLayers model(rngs);
  nnx::Optimizer opt(model, nnx::optim::chain(nnx::optim::clip_by_global_norm(1.0), nnx::optim::adam(1e-2)));
  nnx::DataLoader loader(data, 50, rngs);
  const nnx::Array loss = train(model, opt, loader, 300);
  std::cout << "  loss after 300 steps: " << loss.item<float>() << "\n";
  lesson::claim(nnx::evaluate(model, data, nnx::softmax_cross_entropy).accuracy > 0.95, "it learned the two moons");

  lesson::section("the optimizer's state is a State, keyed by parameter path");
  const nnx::State opt_state = nnx::state(opt);
  std::cout << opt_state;
  lesson::claim(opt_state.contains(nnx::Path::parse("opt_state/1/mu/hidden/kernel")),
                "in a chain, each stage's state sits under its index: opt_state/1/mu/hidden/kernel");
  lesson::claim(opt.num_steps() == 300, "step counts the updates");

  lesson::section("save model + optimizer + data position; restore into the reordered model");
  {
    ckpt::CheckpointManager manager(dir);
    manager.save(300, ckpt::Composite().add("model", nnx::state(model)).add("opt", opt_state).add("data", nnx::state(loader)));
  }
  nnx::Rngs other({{"params", 99}, {"data", 98}});
  TwoLayersReordered resumed(other);
  nnx::Optimizer resumed_opt(resumed, nnx::optim::chain(nnx::optim::clip_by_global_norm(1.0), nnx::optim::adam(1e-2)));
  nnx::DataLoader resumed_loader(data, 50, other);
  ckpt::CheckpointManager manager(dir, {.read_only = true});
  ckpt::Composite restored = manager.restore(std::nullopt, ckpt::Composite()
                                                               .add("model", nnx::state(resumed))
                                                               .add("opt", nnx::state(resumed_opt))
                                                               .add("data", nnx::state(resumed_loader)));
  nnx::update(resumed, restored.state("model"));
  nnx::update(resumed_opt, restored.state("opt"));
  nnx::update(resumed_loader, restored.state("data"));

  train(model, opt, loader, 100);  // both continue for 100 steps
  train(resumed, resumed_opt, resumed_loader, 100);
  lesson::claim(nnx::array_equal(model.hidden.kernel.value, resumed.hidden.kernel.value) &&
                    nnx::array_equal(model.output.bias->value, resumed.output.bias->value),
                "the reordered model continues bitwise like the original: state is matched by path, not position");
  boost::filesystem::remove_all(dir);
  return 0;
}
