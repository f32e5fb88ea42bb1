// Array operations against hand computations: matmul, broadcasting, activations, dropout,
// moments / normalize, error messages and abstract propagation.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <numbers>
#include <nnx/nnx.hpp>
#include <string>
#include <vector>

#include "fixtures.hpp"

using namespace framework_test;

namespace {

using nnx::Array;
using nnx::DType;

template <class T> std::vector<T> values_of(const Array& a) {
  const T* p = a.data<T>();
  return std::vector<T>(p, p + a.numel());
}


bool names(const std::string& msg, std::initializer_list<const char*> parts) {
  for (const char* p : parts)
    if (msg.find(p) == std::string::npos) return false;
  return true;
}

template <class T> Array iota(nnx::Shape shape, double start, double step) {
  std::vector<T> v(static_cast<std::size_t>(nnx::shape_numel(shape)));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<T>(start + step * static_cast<double>(i));
  return Array::from_values<T>(std::move(shape), v);
}

}  // namespace

TEST_CASE_TEMPLATE("matmul: a hand-computed (2,3) x (3,2) and N-d leading axes", T, float, double) {
  const Array a = Array::from_values<T>({2, 3}, {1, 2, 3, 4, 5, 6});
  const Array b = Array::from_values<T>({3, 2}, {7, 8, 9, 10, 11, 12});
  const Array c = nnx::matmul(a, b);
  CHECK(c.shape_dtype() == nnx::ShapeDtype{{2, 2}, nnx::dtype_of<T>()});
  CHECK(values_of<T>(c) == std::vector<T>{58, 64, 139, 154});

  // (2, 2, 3) x (3, 2): the leading axes are one batch axis.
  const Array a3 = Array::from_values<T>({2, 2, 3}, {1, 2, 3, 4, 5, 6, -1, 0, 1, 0, 2, 0});
  const Array c3 = nnx::matmul(a3, b);
  CHECK(c3.shape() == nnx::Shape{2, 2, 2});
  CHECK(values_of<T>(c3) == std::vector<T>{58, 64, 139, 154, 4, 4, 18, 20});

  // A vector (k) times (k, n) gives (n).
  const Array v = Array::from_values<T>({3}, {1, 0, -1});
  CHECK(values_of<T>(nnx::matmul(v, b)) == std::vector<T>{-4, -4});
}

TEST_CASE("matmul errors name both shapes") {
  const Array a = Array::zeros({2, 3}, DType::float32);
  std::string msg = error_of([&] { nnx::matmul(a, Array::zeros({4, 2}, DType::float32)); });
  CHECK_MESSAGE(names(msg, {"matmul", "float32[2,3]", "float32[4,2]"}), msg);
  msg = error_of([&] { nnx::matmul(a, Array::zeros({3, 2}, DType::float64)); });
  CHECK_MESSAGE(names(msg, {"float32[2,3]", "float64[3,2]"}), msg);
  msg = error_of([&] { nnx::matmul(Array::zeros({2, 3}, DType::int32), Array::zeros({3, 2}, DType::int32)); });
  CHECK_MESSAGE(names(msg, {"int32"}), msg);
}

TEST_CASE_TEMPLATE("add / sub / mul broadcast a bias over the leading axes", T, float, double) {
  const Array x = Array::from_values<T>({2, 3}, {1, 2, 3, 4, 5, 6});
  const Array bias = Array::from_values<T>({3}, {10, 20, 30});
  CHECK(values_of<T>(nnx::add(x, bias)) == std::vector<T>{11, 22, 33, 14, 25, 36});
  CHECK(values_of<T>(nnx::sub(x, bias)) == std::vector<T>{-9, -18, -27, -6, -15, -24});
  CHECK(values_of<T>(nnx::mul(x, bias)) == std::vector<T>{10, 40, 90, 40, 100, 180});
  // Same shape: elementwise.
  CHECK(values_of<T>(nnx::mul(x, x)) == std::vector<T>{1, 4, 9, 16, 25, 36});
  // A (2, 3) suffix of (2, 2, 3) and a scalar-shaped () suffix.
  const Array x3 = iota<T>({2, 2, 3}, 0, 1);
  const Array y3 = nnx::add(x3, x);
  CHECK(y3.shape() == nnx::Shape{2, 2, 3});
  CHECK(values_of<T>(y3) == std::vector<T>{1, 3, 5, 7, 9, 11, 7, 9, 11, 13, 15, 17});
  CHECK(values_of<T>(nnx::scale(x, 0.5)) == std::vector<T>{0.5, 1, 1.5, 2, 2.5, 3});
  // The inputs are untouched.
  CHECK(values_of<T>(x) == std::vector<T>{1, 2, 3, 4, 5, 6});
}

TEST_CASE("a bad broadcast names both shapes") {
  const Array x = Array::zeros({2, 3}, DType::float32);
  using Op = std::function<Array(const Array&, const Array&)>;
  const std::pair<const char*, Op> ops[] = {{"add", nnx::add}, {"sub", nnx::sub}, {"mul", nnx::mul}};
  for (const auto& [name, op] : ops) {
    CAPTURE(name);
    std::string msg = error_of([&] { op(x, Array::zeros({2}, DType::float32)); });
    CHECK_MESSAGE(names(msg, {name, "[2]", "[2,3]"}), msg);
    msg = error_of([&] { op(x, Array::zeros({4, 3}, DType::float32)); });
    CHECK_MESSAGE(names(msg, {name, "[4,3]", "[2,3]"}), msg);
    msg = error_of([&] { op(x, Array::zeros({3}, DType::float64)); });
    CHECK_MESSAGE(names(msg, {"float32[2,3]", "float64[3]"}), msg);
  }
}

TEST_CASE("every activation matches its scalar formula") {
  struct Case {
    nnx::Activation activation;
    const char* name;
    double (*f)(double);
  };
  const Case cases[] = {
      {nnx::Activation::identity, "identity", [](double x) { return x; }},
      {nnx::Activation::relu, "relu", [](double x) { return x > 0 ? x : 0.0; }},
      {nnx::Activation::leaky_relu, "leaky_relu", [](double x) { return x >= 0 ? x : 0.01 * x; }},
      // The tanh approximation (jax.nn.gelu's default), not the erf form: they differ by ~1e-4.
      {nnx::Activation::gelu, "gelu",
       [](double x) { return 0.5 * x * (1 + std::tanh(std::sqrt(2 / std::numbers::pi) * (x + 0.044715 * x * x * x))); }},
      {nnx::Activation::silu, "silu", [](double x) { return x / (1 + std::exp(-x)); }},
      {nnx::Activation::tanh, "tanh", [](double x) { return std::tanh(x); }},
      {nnx::Activation::sigmoid, "sigmoid", [](double x) { return 1 / (1 + std::exp(-x)); }},
  };
  const std::vector<double> xs = {-6, -3, -1.5, -1, -0.5, -0.01, 0, 0.01, 0.5, 1, 1.5, 3, 6};
  const Array x64 = Array::from_values<double>({13}, xs);
  const Array x32 = x64.astype(DType::float32);
  for (const Case& c : cases) {
    CAPTURE(c.name);
    CHECK(nnx::activation_name(c.activation) == c.name);
    CHECK(nnx::activation_from_name(c.name) == c.activation);
    const Array y64 = nnx::activate(c.activation, x64);
    const Array y32 = nnx::activate(c.activation, x32);
    CHECK(y64.shape_dtype() == x64.shape_dtype());
    CHECK(y32.shape_dtype() == x32.shape_dtype());
    for (std::size_t i = 0; i < xs.size(); ++i) {
      CAPTURE(xs[i]);
      const double expected = c.f(xs[i]);
      // |got - expected| < epsilon * (1 + |expected|): relative for large values, absolute near 0
      // (float32 gelu(-6) underflows to 0 through 1 + tanh(-12.5)).
      CHECK(y64.data<double>()[i] == doctest::Approx(expected).epsilon(1e-13).scale(1.0));
      CHECK(y32.data<float>()[i] == doctest::Approx(expected).epsilon(2e-6).scale(1.0));
    }
  }
  // The gelu is not the erf form: at x = 1 the two differ by 1.5e-4.
  const double erf_gelu = 0.5 * (1 + std::erf(1 / std::sqrt(2.0)));
  CHECK(std::fabs(nnx::gelu(Array::scalar<double>(1.0)).item<double>() - erf_gelu) > 1e-4);
  // The convenience functions are the same activations; leaky_relu takes a slope.
  CHECK(nnx::array_equal(nnx::silu(x32), nnx::activate(nnx::Activation::silu, x32)));
  CHECK(nnx::leaky_relu(Array::scalar<double>(-2.0), 0.2).item<double>() == doctest::Approx(-0.4));
  CHECK(nnx::leaky_relu(Array::scalar<double>(2.0), 0.2).item<double>() == 2.0);
  CHECK_THROWS_WITH_AS(nnx::relu(Array::zeros({2}, DType::int32)), doctest::Contains("int32[2]"), nnx::Error);
}

TEST_CASE("activation_from_name lists the valid names for an unknown one") {
  try {
    nnx::activation_from_name("swish");
    FAIL("expected nnx::Error");
  } catch (const nnx::Error& e) {
    const std::string msg = e.what();
    CHECK(msg.find("'swish'") != std::string::npos);
    for (const char* name : {"identity", "relu", "leaky_relu", "gelu", "silu", "tanh", "sigmoid"}) {
      CAPTURE(name);
      CHECK(msg.find(name) != std::string::npos);
    }
  }
  CHECK_THROWS_AS(nnx::activation_from_name("RELU"), nnx::Error);
}

TEST_CASE_TEMPLATE("dropout: identity at rate 0, keeps ~1-rate scaled by 1/(1-rate), mask from the key", T, float,
                   double) {
  const Array x = iota<T>({400, 500}, 0.5, 0.001);
  const nnx::Key key = nnx::key_from_seed(17);
  CHECK(nnx::array_equal(nnx::dropout(x, 0.0, key), x));

  for (double rate : {0.1, 0.5, 0.9}) {
    CAPTURE(rate);
    const Array y = nnx::dropout(x, rate, key);
    REQUIRE(y.shape_dtype() == x.shape_dtype());
    const T keep_scale = static_cast<T>(1.0 / (1.0 - rate));
    std::int64_t kept = 0, wrong = 0;
    for (std::int64_t i = 0; i < x.numel(); ++i) {
      const T xi = x.data<T>()[i], yi = y.data<T>()[i];
      const bool keep = nnx::init::uniform01(key, static_cast<std::uint32_t>(i)) >= rate;
      kept += keep;
      if (keep ? yi != xi * keep_scale : yi != T(0)) ++wrong;
    }
    CHECK(wrong == 0);
    CHECK(static_cast<double>(kept) / static_cast<double>(x.numel()) == doctest::Approx(1 - rate).epsilon(0.01));
    CHECK(nnx::array_equal(nnx::dropout(x, rate, key), y));                           // same key, same mask
    CHECK_FALSE(nnx::array_equal(nnx::dropout(x, rate, nnx::key_from_seed(18)), y));  // another key, another
  }
  CHECK_THROWS_WITH_AS(nnx::dropout(x, 1.0, key), doctest::Contains("[0, 1)"), nnx::Error);
  CHECK_THROWS_WITH_AS(nnx::dropout(x, -0.1, key), doctest::Contains("[0, 1)"), nnx::Error);
}

TEST_CASE_TEMPLATE("moments and normalize against a hand computation", T, float, double) {
  // Columns: {1, 3, 5, 7} (mean 4, var 5) and {2, 2, 2, 6} (mean 3, var 3).
  const Array x = Array::from_values<T>({2, 2, 2}, {1, 2, 3, 2, 5, 2, 7, 6});
  Array mean, var;
  nnx::moments(x, mean, var);
  CHECK(mean.shape_dtype() == nnx::ShapeDtype{{2}, nnx::dtype_of<T>()});
  CHECK(values_of<T>(mean) == std::vector<T>{4, 3});
  CHECK(values_of<T>(var) == std::vector<T>{5, 3});

  const double eps = 1e-3;
  const Array scale = Array::from_values<T>({2}, {2, -1});
  const Array bias = Array::from_values<T>({2}, {0.5, 10});
  const Array y = nnx::normalize(x, mean, var, scale, bias, eps);
  const Array plain = nnx::normalize(x, mean, var, Array(), Array(), eps);
  CHECK(y.shape() == x.shape());
  const double m[2] = {4, 3}, v[2] = {5, 3}, s[2] = {2, -1}, b[2] = {0.5, 10};
  const double tol = std::is_same_v<T, float> ? 1e-6 : 1e-14;
  for (int i = 0; i < 8; ++i) {
    CAPTURE(i);
    const int f = i % 2;
    const double z = (static_cast<double>(x.data<T>()[i]) - m[f]) / std::sqrt(v[f] + eps);
    CHECK(static_cast<double>(plain.data<T>()[i]) == doctest::Approx(z).epsilon(tol).scale(tol));
    CHECK(static_cast<double>(y.data<T>()[i]) == doctest::Approx(z * s[f] + b[f]).epsilon(tol).scale(tol));
  }
  CHECK_THROWS_WITH_AS(nnx::normalize(x, Array::zeros({3}, nnx::dtype_of<T>()), var, scale, bias, eps),
                       doctest::Contains("[3]"), nnx::Error);
}

TEST_CASE("abstract inputs give abstract outputs of the right shape") {
  const Array a = Array::abstract({8, 4}, DType::float32);
  const Array w = Array::abstract({4, 16}, DType::float32);
  const Array bias = Array::abstract({16}, DType::float32);
  const Array concrete_w = Array::ones({4, 16}, DType::float32);

  const Array h = nnx::matmul(a, w);
  CHECK(h.is_abstract());
  CHECK(h.shape_dtype() == nnx::ShapeDtype{{8, 16}, DType::float32});
  CHECK(nnx::matmul(a, concrete_w).is_abstract());
  const Array y = nnx::add(h, bias);
  CHECK(y.is_abstract());
  CHECK(y.shape() == nnx::Shape{8, 16});
  CHECK(nnx::mul(y, Array::ones({16}, DType::float32)).is_abstract());
  CHECK(nnx::scale(y, 2.0).is_abstract());
  for (auto act : {nnx::Activation::identity, nnx::Activation::relu, nnx::Activation::gelu, nnx::Activation::sigmoid}) {
    const Array z = nnx::activate(act, y);
    CHECK(z.is_abstract());
    CHECK(z.shape_dtype() == y.shape_dtype());
  }
  const Array d = nnx::dropout(y, 0.5, nnx::key_from_seed(0));
  CHECK(d.is_abstract());
  CHECK(d.shape() == nnx::Shape{8, 16});
  Array mean, var;
  nnx::moments(y, mean, var);
  CHECK(mean.is_abstract());
  CHECK(var.is_abstract());
  CHECK(mean.shape() == nnx::Shape{16});
  const Array n = nnx::normalize(y, mean, var, Array(), Array(), 1e-5);
  CHECK(n.is_abstract());
  CHECK(n.shape() == nnx::Shape{8, 16});
  // Shape errors are still found without data.
  const std::string msg = error_of([&] { nnx::matmul(a, Array::abstract({5, 2}, DType::float32)); });
  CHECK_MESSAGE(names(msg, {"float32[8,4]", "float32[5,2]"}), msg);
  CHECK_THROWS_AS(nnx::add(y, Array::abstract({8}, DType::float32)), nnx::Error);  // (8,16) + (8)
}
