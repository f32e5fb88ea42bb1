// nnx::value_and_grad: which variables get gradients, aux outputs, errors, tape hygiene, models,
// determinism.
#include <doctest/doctest.h>

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <nnx/models.hpp>

#include "grad_check.hpp"

namespace {

using nnx::Array;

struct Abc : nnx::Module {
  nnx::Param a{gradcheck::pattern({3}, 1, 0.2, 1.5, true)};
  nnx::Param b{gradcheck::pattern({2, 3}, 2, 0.2, 1.5, true)};
  nnx::Param c{gradcheck::pattern({2}, 3, 0.2, 1.5, true)};
  NNX_FIELDS(a, b, c)
};

// loss = sum(b * a * a) + sum(c): d/da = 2a * colsum(b), d/db = a*a, d/dc = 1.
Array abc_loss(Abc& m) { return nnx::add(nnx::sum(nnx::mul(m.b.value, nnx::mul(m.a.value, m.a.value))), nnx::sum(m.c.value)); }

void check_abc_grads(const Abc& m, const nnx::State& grads) {
  const double* a = m.a.value.data<double>();
  const double* b = m.b.value.data<double>();
  for (int i = 0; i < 3; ++i) {
    CHECK(grads.at("a").value.data<double>()[i] == doctest::Approx(2 * a[i] * (b[i] + b[3 + i])).epsilon(1e-14));
    CHECK(grads.at("b").value.data<double>()[i] == a[i] * a[i]);
    CHECK(grads.at("b").value.data<double>()[3 + i] == a[i] * a[i]);
  }
  CHECK(nnx::array_equal(grads.at("c").value, Array::ones({2}, nnx::DType::float64)));
}

// Every Array of the module is off the tape.
void check_untracked(const nnx::Module& m) {
  for (const auto& [path, var] : nnx::state(m)) {
    INFO(path);
    CHECK(var.value.grad_node() == -1);
  }
}

nnx::models::MLP make_mlp(nnx::models::MLPConfig config, std::uint64_t seed = 0) {
  nnx::Rngs rngs({{"params", seed}, {"dropout", seed + 1}});
  return nnx::models::MLP(config, rngs);
}

Array inputs(const nnx::Shape& shape, nnx::DType dtype, std::uint64_t seed) {
  return gradcheck::pattern(shape, seed, 0.0, 1.5, true).astype(dtype);
}

}  // namespace

TEST_CASE("value_and_grad: the loss and the gradient of a known function") {
  Abc m;
  auto [loss, grads] = nnx::value_and_grad(m, abc_loss);
  CHECK(nnx::array_equal(loss, abc_loss(m)));
  check_abc_grads(m, grads);
  CHECK(nnx::state_equal(nnx::grad(m, abc_loss), grads));
}

TEST_CASE("value_and_grad: grads have exactly the paths, kinds, shapes and dtypes of the Params") {
  SUBCASE("a hand-written module") {
    Abc m;
    const nnx::State grads = nnx::grad(m, abc_loss);
    CHECK(nnx::compare_structure(nnx::state(m, nnx::Param{}), grads).empty());
    CHECK(grads.size() == 3);
  }
  SUBCASE("an MLP with batch norm and dropout: no BatchStat or RNG paths") {
    auto m = make_mlp({.in = 3, .hidden = {5, 4}, .out = 2, .dropout = 0.2, .batch_norm = true});
    const Array x = inputs({6, 3}, nnx::DType::float32, 11);
    const nnx::State grads = nnx::grad(m, [&](nnx::models::MLP& mlp) { return nnx::mean(mlp(x)); });
    const nnx::State params = nnx::state(m, nnx::Param{});
    CHECK(nnx::compare_structure(params, grads).empty());  // kinds, shapes, dtypes and paths
    CHECK(grads.size() == params.size());
    CHECK(grads.size() == 10);  // 3 Linear kernels and biases, 2 BatchNorm scales and biases
    for (const auto& [path, var] : grads) {
      INFO(path);
      CHECK(var.kind() == nnx::Param::static_kind());
      CHECK(var.value.dtype() == nnx::DType::float32);
    }
    CHECK(grads.contains(nnx::Path::parse("layers/2/kernel")));
    CHECK(grads.contains(nnx::Path::parse("norms/1/scale")));
    CHECK_FALSE(grads.contains(nnx::Path::parse("norms/0/mean")));
    CHECK_FALSE(grads.contains(nnx::Path::parse("dropout/rngs/key")));
  }
  SUBCASE("another filter selects other variables") {
    auto m = make_mlp({.in = 3, .hidden = {4}, .out = 2, .batch_norm = true});
    const Array x = inputs({5, 3}, nnx::DType::float32, 12);
    auto loss = [&](nnx::models::MLP& mlp) { return nnx::mean(mlp(x)); };
    const nnx::State kernels = nnx::grad(m, loss, nnx::PathContains("kernel"));
    CHECK(kernels.size() == 2);
    CHECK(kernels.contains(nnx::Path::parse("layers/0/kernel")));
    CHECK(kernels.contains(nnx::Path::parse("layers/1/kernel")));
    // Everything{} (all float here) includes the BatchStats, with their kinds and zero gradients
    const nnx::State all = nnx::grad(m, loss, nnx::Everything{});
    CHECK(nnx::compare_structure(nnx::state(m), all).empty());
    CHECK(all.at("norms/0/mean").kind() == nnx::BatchStat::static_kind());
    CHECK(nnx::array_equal(all.at("norms/0/mean").value, Array::zeros({4}, nnx::DType::float32)));
  }
}

TEST_CASE("value_and_grad: has_aux returns the auxiliary value, untracked") {
  Abc m;
  auto [loss, out, grads] = nnx::value_and_grad(m, [](Abc& mod) {
    Array out = nnx::matmul(mod.a.value, nnx::transpose(mod.b.value));  // (3) x (3, 2)
    return std::pair{nnx::sum(out), out};
  });
  CHECK(nnx::array_equal(out, nnx::matmul(m.a.value, nnx::transpose(m.b.value))));
  CHECK(out.grad_node() == -1);
  CHECK(loss.grad_node() == -1);
  CHECK(loss.item<double>() == nnx::sum(out).item<double>());
  CHECK(nnx::array_equal(grads.at("c").value, Array::zeros({2}, nnx::DType::float64)));

  auto result = nnx::value_and_grad(m, [](Abc& mod) { return std::pair<Array, std::string>{abc_loss(mod), "aux"}; });
  CHECK(result.aux == "aux");
  check_abc_grads(m, result.grads);
}

TEST_CASE("value_and_grad: variables the loss does not use get zero gradients") {
  Abc m;
  const nnx::State grads = nnx::grad(m, [](Abc& mod) { return nnx::sum(mod.a.value); });
  CHECK(nnx::array_equal(grads.at("a").value, Array::ones({3}, nnx::DType::float64)));
  CHECK(nnx::array_equal(grads.at("b").value, Array::zeros({2, 3}, nnx::DType::float64)));
  CHECK(nnx::array_equal(grads.at("c").value, Array::zeros({2}, nnx::DType::float64)));
  // a loss that uses no variable at all: every gradient zero, the value still returned
  auto [loss, none] = nnx::value_and_grad(m, [](Abc&) { return Array::scalar(2.5); });
  CHECK(loss.item<double>() == 2.5);
  CHECK(nnx::compare_structure(nnx::state(m, nnx::Param{}), none).empty());
  for (const auto& [path, var] : none) CHECK(nnx::array_equal(var.value, Array::zeros(var.value.shape(), nnx::DType::float64)));
}

TEST_CASE("value_and_grad: stop_gradient blocks the gradient") {
  Abc m;
  const nnx::State grads = nnx::grad(m, [](Abc& mod) {
    return nnx::add(nnx::sum(mod.a.value), nnx::sum(nnx::mul(nnx::stop_gradient(mod.a.value), nnx::stop_gradient(mod.b.value))));
  });
  CHECK(nnx::array_equal(grads.at("a").value, Array::ones({3}, nnx::DType::float64)));  // not 1 + colsum(b)
  CHECK(nnx::array_equal(grads.at("b").value, Array::zeros({2, 3}, nnx::DType::float64)));
}

TEST_CASE("value_and_grad: integer variables cannot be differentiated, the error names their paths") {
  auto m = make_mlp({.in = 3, .hidden = {4}, .out = 2, .dropout = 0.5});
  const Array x = inputs({2, 3}, nnx::DType::float32, 13);
  auto loss = [&](nnx::models::MLP& mlp) { return nnx::mean(mlp(x)); };
  try {
    (void)nnx::value_and_grad(m, loss, nnx::Everything{});
    FAIL("expected a StructureError");
  } catch (const nnx::StructureError& e) {
    std::vector<std::string> paths;
    for (const auto& d : e.differences()) {
      paths.push_back(d.path.str());
      CHECK(d.what == nnx::Difference::What::dtype);
    }
    CHECK(paths == std::vector<std::string>{"dropout/rngs/count", "dropout/rngs/key"});
    CHECK(std::string(e.what()).find("dropout/rngs/key") != std::string::npos);
    CHECK(std::string(e.what()).find("uint32") != std::string::npos);
  }
  check_untracked(m);
  CHECK(nnx::grad(m, loss).size() == 4);  // the default (Param) still works
}

TEST_CASE("value_and_grad: the loss must be one floating-point element") {
  Abc m;
  CHECK_THROWS_WITH_AS(nnx::value_and_grad(m, [](Abc& mod) { return mod.b.value; }), doctest::Contains("float64[2,3]"),
                       nnx::Error);
  CHECK_THROWS_WITH_AS(nnx::value_and_grad(m, [](Abc&) { return Array::scalar<std::int32_t>(1); }),
                       doctest::Contains("int32[]"), nnx::Error);
  check_untracked(m);
  // one element of any rank is fine
  auto grads = nnx::grad(m, [](Abc& mod) { return nnx::reshape(nnx::sum(mod.c.value), {1, 1}); });
  CHECK(nnx::array_equal(grads.at("c").value, Array::ones({2}, nnx::DType::float64)));
}

TEST_CASE("value_and_grad: nothing stays on the tape afterwards") {
  auto m = make_mlp({.in = 3, .hidden = {4}, .out = 2, .dropout = 0.3, .batch_norm = true});
  const nnx::State before = nnx::state(m);
  const Array x = inputs({5, 3}, nnx::DType::float32, 14);
  Array leaked;
  auto [loss, grads] = nnx::value_and_grad(m, [&](nnx::models::MLP& mlp) {
    leaked = mlp.layers[0].kernel.value;
    CHECK(leaked.grad_node() >= 0);  // tracked while differentiating
    return nnx::mean(mlp(x));
  });
  check_untracked(m);
  CHECK(leaked.grad_node() == -1);
  CHECK(loss.grad_node() == -1);
  for (const auto& [path, var] : grads) CHECK(var.value.grad_node() == -1);
  // the forward pass in train mode updated the running statistics and the dropout counter
  CHECK_FALSE(nnx::array_equal(before.at("norms/0/mean").value, m.norms[0].mean.value));
  CHECK(m.dropout->rngs.current_count() == 1);
  // an array from an earlier tape is a constant in a later one, whatever its stale node id
  Abc abc;
  Array stale;
  (void)nnx::grad(abc, [&](Abc& mod) {
    stale = nnx::mul(mod.a.value, mod.a.value);
    return nnx::sum(stale);
  });
  const nnx::State g = nnx::grad(abc, [&](Abc& mod) { return nnx::sum(nnx::mul(mod.a.value, stale)); });
  CHECK(nnx::array_equal(g.at("a").value, nnx::mul(abc.a.value, abc.a.value)));
}

TEST_CASE("value_and_grad: an exception inside the loss leaves the tape usable") {
  Abc m;
  CHECK_THROWS_AS(nnx::value_and_grad(m,
                                      [](Abc& mod) {
                                        Array y = nnx::exp(mod.a.value);
                                        return nnx::sum(nnx::add(y, mod.c.value));  // (3) + (2): throws
                                      }),
                  nnx::Error);
  check_untracked(m);
  CHECK_THROWS_WITH_AS(nnx::value_and_grad(m,
                                           [](Abc& mod) -> Array {
                                             (void)nnx::exp(mod.a.value);
                                             throw std::runtime_error("user error");
                                           }),
                       "user error", std::runtime_error);
  check_untracked(m);
  auto [loss, grads] = nnx::value_and_grad(m, abc_loss);
  CHECK(nnx::array_equal(loss, abc_loss(m)));
  check_abc_grads(m, grads);
}

TEST_CASE("value_and_grad: nested calls are rejected clearly and do not disturb the outer one") {
  Abc m, other;
  auto [loss, grads] = nnx::value_and_grad(m, [&](Abc& mod) {
    CHECK_THROWS_WITH_AS(nnx::value_and_grad(other, abc_loss), doctest::Contains("nested value_and_grad is not supported"),
                         nnx::Error);
    return abc_loss(mod);
  });
  check_abc_grads(m, grads);
  // escaping the outer loss function
  CHECK_THROWS_WITH_AS(nnx::value_and_grad(m, [&](Abc& mod) { return nnx::grad(mod, abc_loss).at("c").value; }),
                       doctest::Contains("nested"), nnx::Error);
  check_untracked(m);
  check_abc_grads(m, nnx::grad(m, abc_loss));
}

TEST_CASE("value_and_grad: MLP gradients match finite differences") {
  using nnx::Activation;
  struct Config {
    const char* name;
    nnx::models::MLPConfig config;
    bool eval;
  };
  const std::vector<Config> configs = {
      {"relu, batch norm (train), dropout",
       {.in = 3, .hidden = {5, 4}, .out = 2, .dropout = 0.25, .batch_norm = true, .dtype = nnx::DType::float64},
       false},
      {"gelu, batch norm (train), no bias",
       {.in = 3, .hidden = {4}, .out = 3, .batch_norm = true, .activation = Activation::gelu,
        .dtype = nnx::DType::float64, .use_bias = false},
       false},
      {"tanh, batch norm (eval)",
       {.in = 3, .hidden = {4, 4}, .out = 2, .batch_norm = true, .activation = Activation::tanh,
        .dtype = nnx::DType::float64},
       true},
  };
  std::uint64_t seed = 20;
  for (const Config& c : configs) {
    INFO(c.name);
    auto m = make_mlp(c.config, seed);
    const Array x = inputs({6, 3}, nnx::DType::float64, seed + 100);
    const Array w = gradcheck::pattern({6, c.config.out}, seed + 200, 0.5, 1.5, true);
    auto loss = [&](nnx::models::MLP& mlp) { return nnx::sum(nnx::mul(mlp(x), w)); };
    if (c.eval) {
      for (int i = 0; i < 3; ++i) (void)loss(m);  // move the running statistics away from 0 and 1
      m.eval();
    } else if (c.config.dropout > 0) {
      // dropout is live: two calls draw different masks (the checker restores the counter)
      const nnx::State s = nnx::state(m);
      CHECK(gradcheck::scalar_of(loss(m)) != gradcheck::scalar_of(loss(m)));
      nnx::update(m, s);
    }
    CHECK(gradcheck::check_gradients(m, loss) == m.num_parameters());
    ++seed;
  }
}

TEST_CASE("value_and_grad: bitwise reproducible") {
  auto m1 = make_mlp({.in = 8, .hidden = {16, 16}, .out = 4, .dropout = 0.2, .batch_norm = true});
  auto m2 = nnx::clone(m1);
  const Array x = inputs({32, 8}, nnx::DType::float32, 15);
  auto loss = [&](nnx::models::MLP& mlp) { return nnx::mean(nnx::square(mlp(x))); };
  auto r1 = nnx::value_and_grad(m1, loss);
  auto r2 = nnx::value_and_grad(m2, loss);
  CHECK(nnx::array_equal(r1.value, r2.value));
  CHECK(nnx::state_equal(r1.grads, r2.grads));
  CHECK(nnx::state_equal(nnx::state(m1), nnx::state(m2)));  // running statistics, RNG counters
}

TEST_CASE("value_and_grad: matmul results and gradients do not depend on the thread count") {
  struct Product : nnx::Module {
    nnx::Param a{nnx::init::normal(1.0)(nnx::key_from_seed(1), {256, 512}, nnx::DType::float32)};
    nnx::Param b{nnx::init::normal(1.0)(nnx::key_from_seed(2), {512, 256}, nnx::DType::float32)};
    NNX_FIELDS(a, b)
  };
  const Array w = nnx::init::normal(1.0)(nnx::key_from_seed(3), {256, 256}, nnx::DType::float32);
  auto loss = [&](Product& p) {
    Array y = nnx::matmul(p.a.value, p.b.value);
    return std::pair{nnx::sum(nnx::mul(y, w)), y};
  };
  const int previous = nnx::num_threads();
  Product p;
  nnx::set_num_threads(1);
  auto [loss1, y1, grads1] = nnx::value_and_grad(p, loss);
  for (int threads : {2, 3}) {
    CAPTURE(threads);
    nnx::set_num_threads(threads);
    auto [loss_n, y_n, grads_n] = nnx::value_and_grad(p, loss);
    CHECK(nnx::array_equal(y1, y_n));
    CHECK(nnx::array_equal(loss1, loss_n));
    CHECK(nnx::state_equal(grads1, grads_n));
  }
  nnx::set_num_threads(previous);
  CHECK(nnx::num_threads() == previous);
  // sanity: the gradient is the product it should be, d/da = w . b^T at one element
  double expected = 0;
  for (int k = 0; k < 256; ++k)
    expected += static_cast<double>(w.data<float>()[k]) * p.b.value.data<float>()[7 * 256 + k];
  CHECK(grads1.at("a").value.data<float>()[7] == doctest::Approx(expected).epsilon(1e-4));
}
