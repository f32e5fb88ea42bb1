// Gradients of every differentiable op in nnx/ops.hpp, checked against central finite differences.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include <nnx/nnx.hpp>

#include "grad_check.hpp"

namespace {

using nnx::Array;
using nnx::Shape;
using Args = std::vector<Array>;

// Where an input's values lie: away from 0 with either sign (clear of the kinks of relu, abs, ...),
// or positive (log, sqrt, pow, denominators).
enum class Domain { nonzero, positive };
struct Input {
  Shape shape;
  Domain domain = Domain::nonzero;
};
struct OpCase {
  std::string name;
  std::vector<Input> inputs;  // each becomes a float64 Param
  std::function<Array(const Args&)> op;
};

// The inputs of an op as Params p/0, p/1, ...
struct Inputs : nnx::Module {
  std::vector<nnx::Param> p;
  NNX_FIELDS(p)
};

Array values(const Input& in, std::uint64_t seed) {
  return in.domain == Domain::positive ? gradcheck::pattern(in.shape, seed, 0.5, 2.0, false)
                                       : gradcheck::pattern(in.shape, seed, 0.2, 1.5, true);
}

// loss = sum(op(inputs) * w) with fixed random weights w, so every output element matters.
gradcheck::Result compare_op(const OpCase& c, std::uint64_t seed) {
  Inputs m;
  for (std::size_t j = 0; j < c.inputs.size(); ++j) m.p.emplace_back(values(c.inputs[j], seed * 16 + j));
  Args plain;
  for (const auto& v : m.p) plain.push_back(v.value);
  const Array w = gradcheck::pattern(c.op(plain).shape(), seed * 16 + 15, 0.5, 1.5, true);
  auto loss = [&](Inputs& mod) {
    Args x;
    for (const auto& v : mod.p) x.push_back(v.value);
    return nnx::sum(nnx::mul(c.op(x), w));
  };
  return gradcheck::compare_gradients(m, loss);
}

const nnx::Key kDropKey{0, 77};

std::vector<OpCase> op_cases() {
  const Domain pos = Domain::positive;
  const Array mean = gradcheck::pattern({4}, 901, 0.1, 0.5, true);      // normalize's fixed statistics
  const Array var = gradcheck::pattern({4}, 902, 0.5, 2.0, false);
  const Array cond = Array::from_values<std::int32_t>({3, 4}, {1, 0, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1});
  auto unary = [](std::string name, Array (*f)(const Array&), Domain d = Domain::nonzero) {
    return OpCase{std::move(name), {{{3, 4}, d}}, [f](const Args& x) { return f(x[0]); }};
  };
  std::vector<OpCase> cases = {
      // elementwise binary, equal shapes and broadcasting
      {"add", {{{3, 4}}, {{3, 4}}}, [](const Args& x) { return nnx::add(x[0], x[1]); }},
      {"add (3,4)+(4)", {{{3, 4}}, {{4}}}, [](const Args& x) { return nnx::add(x[0], x[1]); }},
      {"add (4)+(3,4)", {{{4}}, {{3, 4}}}, [](const Args& x) { return nnx::add(x[0], x[1]); }},
      {"sub", {{{3, 4}}, {{3, 4}}}, [](const Args& x) { return nnx::sub(x[0], x[1]); }},
      {"sub (2,3,4)-(1,3,1)", {{{2, 3, 4}}, {{1, 3, 1}}}, [](const Args& x) { return nnx::sub(x[0], x[1]); }},
      {"mul", {{{3, 4}}, {{3, 4}}}, [](const Args& x) { return nnx::mul(x[0], x[1]); }},
      {"mul (3,4)*(3,1)", {{{3, 4}}, {{3, 1}}}, [](const Args& x) { return nnx::mul(x[0], x[1]); }},
      {"mul scalar*(3,4)", {{{}}, {{3, 4}}}, [](const Args& x) { return nnx::mul(x[0], x[1]); }},
      {"mul (3,4)*scalar", {{{3, 4}}, {{}}}, [](const Args& x) { return nnx::mul(x[0], x[1]); }},
      {"mul x*x", {{{3, 4}}}, [](const Args& x) { return nnx::mul(x[0], x[0]); }},
      {"div", {{{3, 4}}, {{3, 4}, pos}}, [](const Args& x) { return nnx::div(x[0], x[1]); }},
      {"div (3,4)/(4)", {{{3, 4}}, {{4}, pos}}, [](const Args& x) { return nnx::div(x[0], x[1]); }},
      {"div scalar/(3,4)", {{{}}, {{3, 4}, pos}}, [](const Args& x) { return nnx::div(x[0], x[1]); }},
      {"maximum", {{{3, 4}}, {{3, 4}}}, [](const Args& x) { return nnx::maximum(x[0], x[1]); }},
      {"maximum (3,4),(3,1)", {{{3, 4}}, {{3, 1}}}, [](const Args& x) { return nnx::maximum(x[0], x[1]); }},
      {"where", {{{3, 4}}, {{3, 4}}}, [cond](const Args& x) { return nnx::where(cond, x[0], x[1]); }},
      // elementwise unary
      {"scale", {{{3, 4}}}, [](const Args& x) { return nnx::scale(x[0], -1.7); }},
      {"add_scalar", {{{3, 4}}}, [](const Args& x) { return nnx::add_scalar(x[0], 0.3); }},
      unary("neg", nnx::neg),
      unary("exp", nnx::exp),
      unary("log", nnx::log, pos),
      unary("sqrt", nnx::sqrt, pos),
      unary("square", nnx::square),
      unary("abs", nnx::abs),
      {"clip", {{{4, 5}}}, [](const Args& x) { return nnx::clip(x[0], -0.6, 0.9); }},
      unary("relu", nnx::relu),
      unary("gelu", nnx::gelu),
      unary("silu", nnx::silu),
      unary("tanh", nnx::tanh),
      unary("sigmoid", nnx::sigmoid),
      {"leaky_relu (default slope)", {{{3, 4}}}, [](const Args& x) { return nnx::leaky_relu(x[0]); }},
      {"leaky_relu 0.2", {{{3, 4}}}, [](const Args& x) { return nnx::leaky_relu(x[0], 0.2); }},
      // softmax
      {"softmax axis -1", {{{2, 3, 4}}}, [](const Args& x) { return nnx::softmax(x[0], -1); }},
      {"softmax axis 0", {{{2, 3, 4}}}, [](const Args& x) { return nnx::softmax(x[0], 0); }},
      {"softmax axis 1", {{{2, 3, 4}}}, [](const Args& x) { return nnx::softmax(x[0], 1); }},
      {"log_softmax axis -1", {{{2, 3, 4}}}, [](const Args& x) { return nnx::log_softmax(x[0], -1); }},
      {"log_softmax axis 0", {{{2, 3, 4}}}, [](const Args& x) { return nnx::log_softmax(x[0], 0); }},
      // linear algebra and shapes
      {"matmul 2-d", {{{3, 4}}, {{4, 5}}}, [](const Args& x) { return nnx::matmul(x[0], x[1]); }},
      {"matmul 3-d batch", {{{2, 3, 4}}, {{4, 5}}}, [](const Args& x) { return nnx::matmul(x[0], x[1]); }},
      {"matmul 1-d", {{{4}}, {{4, 3}}}, [](const Args& x) { return nnx::matmul(x[0], x[1]); }},
      {"transpose 2-d", {{{3, 4}}}, [](const Args& x) { return nnx::transpose(x[0]); }},
      {"transpose 3-d (2,0,1)", {{{2, 3, 4}}}, [](const Args& x) { return nnx::transpose(x[0], {2, 0, 1}); }},
      {"transpose 3-d (1,2,0)", {{{2, 3, 4}}}, [](const Args& x) { return nnx::transpose(x[0], {1, 2, 0}); }},
      {"reshape (4,-1)", {{{2, 3, 4}}}, [](const Args& x) { return nnx::reshape(x[0], {4, -1}); }},
      {"concat axis 0", {{{2, 4}}, {{3, 4}}}, [](const Args& x) { return nnx::concat({x[0], x[1]}, 0); }},
      {"concat axis 1", {{{3, 2}}, {{3, 4}}, {{3, 1}}},
       [](const Args& x) { return nnx::concat({x[0], x[1], x[2]}, 1); }},
      {"concat axis -1 of 3-d", {{{2, 2, 3}}, {{2, 2, 1}}}, [](const Args& x) { return nnx::concat({x[0], x[1]}, -1); }},
      {"gather_rows int32 repeated",
       {{{4, 3}}},
       [](const Args& x) {
         return nnx::gather_rows(x[0], Array::from_values<std::int32_t>({5}, {2, 0, 2, 3, 2}));
       }},
      {"gather_rows int64 2-d indices",
       {{{3, 2}}},
       [](const Args& x) {
         return nnx::gather_rows(x[0], Array::from_values<std::int64_t>({2, 2}, {1, 1, 0, 1}));
       }},
      {"slice_rows", {{{5, 3}}}, [](const Args& x) { return nnx::slice_rows(x[0], 1, 4); }},
      // layers' building blocks
      {"dropout", {{{4, 5}}}, [](const Args& x) { return nnx::dropout(x[0], 0.4, kDropKey); }},
      {"normalize", {{{5, 4}}, {{4}}, {{4}}},
       [=](const Args& x) { return nnx::normalize(x[0], mean, var, x[1], x[2], 1e-5); }},
      {"normalize 3-d without scale, bias", {{{2, 3, 4}}},
       [=](const Args& x) { return nnx::normalize(x[0], mean, var, Array(), Array(), 1e-3); }},
      {"batch_norm_train", {{{6, 4}}, {{4}}, {{4}}},
       [](const Args& x) {
         Array m, v;
         return nnx::batch_norm_train(x[0], x[1], x[2], 1e-5, m, v);
       }},
      {"batch_norm_train 3-d", {{{2, 3, 4}}, {{4}}, {{4}}},
       [](const Args& x) {
         Array m, v;
         return nnx::batch_norm_train(x[0], x[1], x[2], 1e-3, m, v);
       }},
      {"batch_norm_train without scale", {{{5, 4}}, {{4}}},
       [](const Args& x) {
         Array m, v;
         return nnx::batch_norm_train(x[0], Array(), x[1], 1e-5, m, v);
       }},
      // compositions: one input reaching the loss along several paths
      {"x*y + exp(x) - x/y", {{{3, 4}}, {{3, 4}, pos}},
       [](const Args& x) { return nnx::sub(nnx::add(nnx::mul(x[0], x[1]), nnx::exp(x[0])), nnx::div(x[0], x[1])); }},
      {"mean square error of matmul", {{{3, 4}}, {{4, 2}}, {{3, 2}}},
       [](const Args& x) { return nnx::mean(nnx::square(nnx::sub(nnx::matmul(x[0], x[1]), x[2]))); }},
      {"cross entropy", {{{3, 5}}, {{3, 5}}},
       [](const Args& x) { return nnx::neg(nnx::sum(nnx::mul(nnx::log_softmax(x[0]), nnx::softmax(x[1])), {-1})); }},
  };
  for (double e : {2.0, 3.0, 0.5, -1.0, 1.7, 1.0, 0.0})
    cases.push_back({"pow " + std::to_string(e), {{{3, 4}, pos}}, [e](const Args& x) { return nnx::pow(x[0], e); }});
  for (double e : {2.0, 3.0, -1.0})  // integer exponents on negative bases
    cases.push_back({"pow (signed) " + std::to_string(e), {{{3, 4}}}, [e](const Args& x) { return nnx::pow(x[0], e); }});
  for (auto act : {nnx::Activation::identity, nnx::Activation::relu, nnx::Activation::leaky_relu, nnx::Activation::gelu,
                   nnx::Activation::silu, nnx::Activation::tanh, nnx::Activation::sigmoid})
    cases.push_back({"activate " + std::string(nnx::activation_name(act)), {{{3, 4}}},
                     [act](const Args& x) { return nnx::activate(act, x[0]); }});
  // reductions: single axes, several axes, all axes, negative axes, keepdims both ways
  struct Reduction {
    const char* name;
    Array (*f)(const Array&, std::vector<int>, bool);
  };
  for (Reduction r : {Reduction{"sum", nnx::sum}, Reduction{"mean", nnx::mean}, Reduction{"max", nnx::max}})
    for (const std::vector<int>& axes : std::vector<std::vector<int>>{{0}, {1}, {-1}, {0, 2}, {2, 0, 1}, {}})
      for (bool keepdims : {false, true}) {
        std::string name = std::string(r.name) + " axes {";
        for (int a : axes) name += std::to_string(a) + " ";
        name += keepdims ? "} keepdims" : "}";
        cases.push_back({name, {{{2, 3, 4}}}, [r, axes, keepdims](const Args& x) { return r.f(x[0], axes, keepdims); }});
      }
  return cases;
}

}  // namespace

TEST_CASE("autodiff: every op's gradient matches central finite differences (float64)") {
  const std::vector<OpCase> cases = op_cases();
  CHECK(cases.size() > 100);
  std::uint64_t seed = 1;
  for (const OpCase& c : cases) {
    INFO("op case: " << c.name);
    gradcheck::check_result(compare_op(c, seed++));
  }
}

TEST_CASE("autodiff: the gradient checker detects a wrong gradient") {
  // stop_gradient hides x from the tape while the loss still depends on it: analytic 0, numeric w.
  const gradcheck::Result r =
      compare_op({"stop_gradient posing as identity", {{{3}}}, [](const Args& x) { return nnx::stop_gradient(x[0]); }}, 1);
  CHECK(r.checked == 3);
  CHECK(r.bad == 3);
  CHECK(r.report.find("p/0[2]: analytic 0") != std::string::npos);
}

TEST_CASE("autodiff: clip passes the gradient inside [lo, hi] and blocks it outside") {
  const Array x = values({{4, 5}}, 999);
  const double* p = x.data<double>();
  int inside = 0, outside = 0;
  for (std::int64_t i = 0; i < x.numel(); ++i) (p[i] >= -0.6 && p[i] <= 0.9 ? inside : outside)++;
  CHECK(inside > 0);
  CHECK(outside > 0);
  // the gradient is exactly 1 inside the bounds and exactly 0 outside
  Inputs m;
  m.p.emplace_back(x);
  auto grads = nnx::grad(m, [](Inputs& mod) { return nnx::sum(nnx::clip(mod.p[0].value, -0.6, 0.9)); });
  const double* g = grads.at("p/0").value.data<double>();
  for (std::int64_t i = 0; i < x.numel(); ++i) CHECK(g[i] == (p[i] >= -0.6 && p[i] <= 0.9 ? 1.0 : 0.0));
}

TEST_CASE("autodiff: dropout's gradient is its mask divided by 1 - rate") {
  const double rate = 0.3;
  Inputs m;
  m.p.emplace_back(values({{6, 7}}, 5));
  const Array w = gradcheck::pattern({6, 7}, 6, 0.5, 1.5, true);
  auto grads = nnx::grad(m, [&](Inputs& mod) { return nnx::sum(nnx::mul(nnx::dropout(mod.p[0].value, rate, kDropKey), w)); });
  const double* g = grads.at("p/0").value.data<double>();
  int dropped = 0;
  for (std::int64_t i = 0; i < 42; ++i) {
    const bool keep = nnx::init::uniform01(kDropKey, static_cast<std::uint32_t>(i)) >= rate;
    dropped += keep ? 0 : 1;
    CHECK(g[i] == (keep ? w.data<double>()[i] * (1.0 / (1.0 - rate)) : 0.0));
  }
  CHECK(dropped > 0);
  CHECK(dropped < 42);
}

TEST_CASE("autodiff: ties and kinks follow the documented rules") {
  Inputs m;
  m.p.emplace_back(Array::from_values<double>({4}, {1.0, 3.0, 3.0, 2.0}));
  m.p.emplace_back(Array::from_values<double>({4}, {1.0, 0.0, 3.0, 5.0}));
  m.p.emplace_back(Array::from_values<double>({3}, {0.0, -1.0, 2.0}));
  auto grad_of = [&](std::function<Array(const Args&)> f) {
    return nnx::grad(m, [&](Inputs& mod) { return nnx::sum(f({mod.p[0].value, mod.p[1].value, mod.p[2].value})); });
  };
  auto values_at = [](const nnx::State& s, const char* path) {
    const Array& a = s.at(path).value;
    return std::vector<double>(a.data<double>(), a.data<double>() + a.numel());
  };
  SUBCASE("max: the first maximum gets the gradient") {
    auto g = grad_of([](const Args& x) { return nnx::max(x[0]); });
    CHECK(values_at(g, "p/0") == std::vector<double>{0, 1, 0, 0});
  }
  SUBCASE("maximum: ties go to a") {
    auto g = grad_of([](const Args& x) { return nnx::maximum(x[0], x[1]); });
    CHECK(values_at(g, "p/0") == std::vector<double>{1, 1, 1, 0});
    CHECK(values_at(g, "p/1") == std::vector<double>{0, 0, 0, 1});
  }
  SUBCASE("relu and abs have gradient 0 at 0") {
    CHECK(values_at(grad_of([](const Args& x) { return nnx::relu(x[2]); }), "p/2") == std::vector<double>{0, 0, 1});
    CHECK(values_at(grad_of([](const Args& x) { return nnx::abs(x[2]); }), "p/2") == std::vector<double>{0, -1, 1});
  }
  SUBCASE("pow has the limit gradient at 0, not 0/0") {
    // d/dx x^e = e x^(e-1): 0 at x = 0 for e > 1, e.g. pow(relu(x), 3) where relu clamps to exactly 0
    for (double e : {3.0, 1.7, 4.0}) {
      CAPTURE(e);
      auto g = values_at(grad_of([e](const Args& x) { return nnx::pow(x[2], e); }), "p/2");
      CHECK(g[0] == 0.0);
      CHECK(g[2] == doctest::Approx(e * std::pow(2.0, e - 1)).epsilon(1e-12));
    }
    CHECK(values_at(grad_of([](const Args& x) { return nnx::pow(x[2], 2.0); }), "p/2")[0] == 0.0);
  }
}
