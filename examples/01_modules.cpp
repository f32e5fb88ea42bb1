// Lesson 01: modules are plain C++ objects.
//
// A Module lists its fields once (NNX_FIELDS); nnx then finds its Variables, children and static
// attributes by name, the way Flax NNX walks a Python object. Randomness comes from Rngs: named,
// counter-based streams whose state is itself part of the model.
#include <nnx/models.hpp>

#include "lesson.hpp"

// A user-written module: two Linear layers with a skip connection, and a Dropout.
struct ResidualBlock : nnx::Module {
  nnx::Linear inner, outer;
  nnx::Dropout drop;
  std::int64_t width = 0;  // a static attribute: part of the structure (GraphDef), not of the State

  // merge builds a module from its GraphDef: it default-constructs it, then sets every field
  // listed in NNX_FIELDS. So a module needs a default constructor, and what it needs to run
  // belongs in NNX_FIELDS.
  ResidualBlock() = default;
  ResidualBlock(std::int64_t d, nnx::Rngs& rngs) : inner(d, d, rngs), outer(d, d, rngs), drop(0.1, rngs), width(d) {}

  nnx::Array operator()(const nnx::Array& x) { return nnx::add(x, outer(drop(nnx::relu(inner(x))))); }

  NNX_FIELDS(inner, outer, drop, width)
};

// The mistake NNX_FIELDS invites: `outer` is used but not listed, so it would never be trained,
// saved or restored. nnx refuses it at the first train_step (or value_and_grad, predict, evaluate).
struct ForgetfulBlock : nnx::Module {
  nnx::Linear inner, outer;
  ForgetfulBlock() = default;
  explicit ForgetfulBlock(nnx::Rngs& rngs) : inner(8, 8, rngs), outer(8, 2, rngs) {}
  nnx::Array operator()(const nnx::Array& x) { return outer(nnx::relu(inner(x))); }
  NNX_FIELDS(inner)  // should be NNX_FIELDS(inner, outer)
};

int main() {
  lesson::section("Rngs: named streams, each a key and a counter");
  nnx::Rngs rngs({{"params", 0}, {"dropout", 1}});
  nnx::Key first = rngs.params();
  nnx::Key second = rngs.params();
  lesson::claim(!(first == second), "every draw from a stream gives a new key (fold_in(key, count++))");
  lesson::claim(rngs.stream("params").current_count() == 2, "the 'params' stream counted two draws");
  try {
    rngs("noise");  // no 'noise' stream and no 'default' to fall back on
    lesson::claim(false, "an unknown stream without 'default' is an error");
  } catch (const nnx::Error& e) {
    std::cout << "  error: " << e.what() << "\n";
    lesson::claim(std::string(e.what()).find("'noise'") != std::string::npos, "the error names the stream");
  }
  nnx::Rngs single(7);
  lesson::claim(single.has_stream("default") && !single.has_stream("params"), "Rngs(7) has one stream, 'default'");
  single.params();  // falls back to 'default'
  lesson::claim(single.stream("default").current_count() == 1, "a draw from 'params' fell back to 'default'");

  lesson::section("A ready-made MLP and its State");
  nnx::Rngs seeds({{"params", 0}, {"dropout", 1}});
  nnx::models::MLP model({.in = 4, .hidden = {32, 32}, .out = 2, .dropout = 0.1}, seeds);
  nnx::State state = nnx::state(model);
  std::cout << state;
  lesson::claim(state.at("layers/0/kernel").value.shape() == nnx::Shape{4, 32}, "layers/0/kernel is (in, out) = (4, 32)");
  lesson::claim(state.at("dropout/rngs/key").kind() == nnx::RngKey::static_kind(),
                "Dropout's random stream is state too (RngKey / RngCount)");

  lesson::section("A user-written module");
  nnx::Rngs rngs2(42);
  ResidualBlock block(8, rngs2);
  std::cout << nnx::state(block) << nnx::graphdef(block);
  nnx::Array x = nnx::Array::ones({2, 8}, nnx::DType::float32);
  block.eval();  // reaches the Dropout inside: no dropout at evaluation
  lesson::claim(nnx::array_equal(block(x), block(x)), "in eval mode the block is deterministic");
  block.train();
  lesson::claim(!nnx::array_equal(block(x), block(x)), "in train mode each call draws a new dropout mask");

  lesson::section("A field left out of NNX_FIELDS is an error, not a silently untrained layer");
  nnx::Rngs rngs3(3);
  ForgetfulBlock forgetful(rngs3);
  nnx::Optimizer sgd(forgetful, nnx::optim::sgd(0.1));
  try {
    nnx::train_step(forgetful, sgd, [&](ForgetfulBlock& m) { return nnx::mean(m(x)); });
    lesson::claim(false, "train_step refuses a model whose NNX_FIELDS misses a layer it uses");
  } catch (const nnx::Error& e) {
    std::cout << "  error: " << e.what() << "\n";
    lesson::claim(std::string(e.what()).find("NNX_FIELDS lists: inner") != std::string::npos,
                  "the error names the module, the Variable's kind and shape, and what NNX_FIELDS lists");
  }

  lesson::section("Predicting: nnx::predict, not model(x)");
  // After training a model is in training mode: calling it draws dropout masks and, worse, moves
  // BatchNorm's running statistics. nnx::predict runs it in evaluation mode, records no gradient
  // tape, and puts every module's mode back. (A temporary Rngs is fine where a layer only draws
  // its initial values from it.)
  nnx::models::MLP net({.in = 8, .hidden = {16}, .out = 2, .dropout = 0.5, .batch_norm = true}, nnx::Rngs(5));
  const nnx::State before = nnx::state(net);
  nnx::Array y = nnx::predict(net, x);
  lesson::claim(nnx::state_equal(nnx::state(net), before) && net.is_training(),
                "predict changed no running statistic, drew no mask, and left the model in training mode");
  (void)net(x);
  lesson::claim(!nnx::state_equal(nnx::state(net), before), "model(x) in training mode moved BatchNorm's statistics");
  nnx::models::MLP frozen = nnx::clone(net);
  frozen.eval();
  lesson::claim(nnx::array_equal(nnx::predict(net, x), frozen(x)), "predict(model, x) is model(x) in evaluation mode");
  std::cout << "  predict(net, x) = " << y << "\n";

  lesson::section("Same seed, same parameters, on any machine");
  nnx::Rngs again({{"params", 0}, {"dropout", 1}});
  nnx::models::MLP twin({.in = 4, .hidden = {32, 32}, .out = 2, .dropout = 0.1}, again);
  lesson::claim(nnx::state_equal(nnx::state(twin), state), "an MLP built from the same seeds is bitwise identical");
  return 0;
}
