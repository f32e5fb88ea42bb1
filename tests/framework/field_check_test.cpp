// A field left out of NNX_FIELDS is never trained, saved or restored: the first train_step,
// value_and_grad, predict or evaluate that uses it must say so (FieldCheck, module.hpp), and
// correctly declared models must not notice anything.
#include <doctest/doctest.h>

#include <functional>
#include <string>
#include <vector>

#include <nnx/models.hpp>

#include "fixtures.hpp"

using namespace framework_test;

namespace {

using nnx::Array;
using nnx::DType;

Array field_check_input() { return Array::full({8, 4}, DType::float32, 0.5); }
Array field_check_labels() { return Array::from_values<std::int32_t>({8}, {0, 1, 0, 1, 1, 0, 1, 0}); }

// The user's model from issue 12: fc2 is used in operator() but not listed.
struct ForgotFc2 : nnx::Module {
  nnx::Linear fc1, fc2;
  ForgotFc2() = default;
  explicit ForgotFc2(nnx::Rngs& rngs) : fc1(4, 8, rngs), fc2(8, 2, rngs) {}
  Array operator()(const Array& x) { return fc2(nnx::relu(fc1(x))); }
  NNX_FIELDS(fc1)
};

// The same model listing only fc2: the unlisted layer runs first, on an input not differentiated.
struct ForgotFirst : ForgotFc2 {
  using ForgotFc2::ForgotFc2;
  NNX_FIELDS(fc2)
};

// A bare Param left out.
struct ForgotParam : nnx::Module {
  nnx::Linear fc;
  nnx::Param temperature{Array::full({2}, DType::float32, 2.0)};
  ForgotParam() = default;
  explicit ForgotParam(nnx::Rngs& rngs) : fc(4, 2, rngs) {}
  Array operator()(const Array& x) { return nnx::mul(fc(x), temperature.value); }
  NNX_FIELDS(fc)
};

// Listed as a child, but the child forgot its BatchNorm: the error names the child's type.
struct InnerForgotNorm : nnx::Module {
  nnx::Linear fc;
  nnx::BatchNorm norm;
  InnerForgotNorm() = default;
  explicit InnerForgotNorm(nnx::Rngs& rngs) : fc(4, 2, rngs), norm(2, rngs) {}
  Array operator()(const Array& x) { return norm(fc(x)); }
  NNX_FIELDS(fc)
};
struct OuterListsInner : nnx::Module {
  InnerForgotNorm inner;
  OuterListsInner() = default;
  explicit OuterListsInner(nnx::Rngs& rngs) : inner(rngs) {}
  Array operator()(const Array& x) { return inner(x); }
  NNX_FIELDS(inner)
};

// Correct: everything listed, a BatchNorm (BatchStats are used, not differentiated).
struct AllListed : nnx::Module {
  nnx::Linear fc1, fc2;
  nnx::BatchNorm norm;
  AllListed() = default;
  explicit AllListed(nnx::Rngs& rngs) : fc1(4, 8, rngs), fc2(8, 2, rngs), norm(8, rngs) {}
  Array operator()(const Array& x) { return fc2(nnx::relu(norm(fc1(x)))); }
  NNX_FIELDS(fc1, fc2, norm)
};

template <class M> std::string train_step_error() {
  nnx::Rngs rngs(0);
  M model(rngs);
  nnx::Optimizer opt(model, nnx::optim::sgd(0.1));
  return error_of([&] {
    nnx::train_step(model, opt, [](M& m) { return nnx::softmax_cross_entropy(m(field_check_input()), field_check_labels()); });
  });
}

}  // namespace

TEST_CASE("a Variable used in the loss but missing from NNX_FIELDS: train_step names the module, shape, kind and NNX_FIELDS") {
  struct Case {
    const char* name;
    std::function<std::string()> run;
    std::vector<std::string> message;
  };
  const Case cases[] = {
      {"issue 12: fc2 used but not listed", train_step_error<ForgotFc2>,
       {"value_and_grad: a Param float32[8,2] inside a", "ForgotFc2 object", "ForgotFc2's State", "NNX_FIELDS lists: fc1",
        "Add the missing field", "NNX_FIELDS(...) in", "never trained, saved, restored"}},
      {"the unlisted layer runs first", train_step_error<ForgotFirst>,
       {"a Param float32[4,8] inside a", "ForgotFirst object", "NNX_FIELDS lists: fc2"}},
      {"a bare Param", train_step_error<ForgotParam>,
       {"a Param float32[2] inside a", "ForgotParam object", "NNX_FIELDS lists: fc"}},
      {"a listed child that forgot its BatchNorm", train_step_error<OuterListsInner>,
       {"float32[2] inside a", "InnerForgotNorm object", "NNX_FIELDS lists: fc"}},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    const std::string error = c.run();
    CAPTURE(error);
    for (const std::string& part : c.message) CHECK(has(error, part));
  }
}

TEST_CASE("the missing field is caught by value_and_grad, predict and evaluate too, and the tape is left usable") {
  nnx::Rngs rngs(0);
  ForgotFc2 model(rngs);
  const auto loss = [](ForgotFc2& m) { return nnx::mean(m(field_check_input())); };
  CHECK(has(error_of([&] { nnx::value_and_grad(model, loss); }), "ForgotFc2 object"));
  CHECK(has(error_of([&] { nnx::predict(model, field_check_input()); }), "predict: a Param float32[8,2]"));
  const nnx::Dataset data = nnx::make_dataset(field_check_input(), field_check_labels());
  CHECK(has(error_of([&] { nnx::evaluate(model, data, nnx::softmax_cross_entropy); }), "evaluate: a Param"));
  CHECK(model.is_training());  // predict and evaluate restored the mode on the way out

  // Outside those calls nothing is checked: the plain forward pass still runs.
  CHECK(model(field_check_input()).shape() == nnx::Shape{8, 2});
  // After the error a correct model differentiates normally.
  AllListed good(rngs);
  auto [value, grads] = nnx::value_and_grad(good, [](AllListed& m) { return nnx::mean(m(field_check_input())); });
  CHECK(grads.size() == nnx::state(good, nnx::Param{}).size());
}

TEST_CASE("correct models are unaffected: all fields listed, frozen parameters, another model's Variables in the loss") {
  nnx::Rngs rngs(0);
  AllListed model(rngs);
  nnx::Optimizer opt(model, nnx::optim::sgd(0.1));
  const auto loss = [](AllListed& m) { return nnx::softmax_cross_entropy(m(field_check_input()), field_check_labels()); };
  CHECK(error_of([&] { nnx::train_step(model, opt, loss); }) == "<no exception>");

  // Frozen: fc1 is in the State but not differentiated.
  CHECK(error_of([&] { nnx::value_and_grad(model, loss, nnx::PathContains("fc2")); }) == "<no exception>");

  // A target network (another object) inside the loss: its Variables are not the model's business.
  AllListed target(rngs);
  const auto distill = [&](AllListed& m) { return nnx::mse(m(field_check_input()), target(field_check_input())); };
  CHECK(error_of([&] { nnx::value_and_grad(model, distill); }) == "<no exception>");

  CHECK(error_of([&] { nnx::predict(model, field_check_input()); }) == "<no exception>");
  nnx::models::MLP mlp({.in = 4, .hidden = {8}, .out = 2, .dropout = 0.1, .batch_norm = true}, rngs);
  nnx::Optimizer mlp_opt(mlp, nnx::optim::adam(1e-3));
  CHECK(error_of([&] {
          nnx::train_step(mlp, mlp_opt, [](nnx::models::MLP& m) {
            return nnx::softmax_cross_entropy(m(field_check_input()), field_check_labels());
          });
        }) == "<no exception>");
}
