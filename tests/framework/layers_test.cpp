// Linear, Dropout, BatchNorm and Sequential: shapes, Flax's initialisation order, forward passes
// against manual computation, train/eval behaviour and state paths.
#include <doctest/doctest.h>

#include <cmath>
#include <memory>
#include <nnx/nnx.hpp>
#include <string>
#include <vector>

#include "fixtures.hpp"

using namespace framework_test;

namespace {

using nnx::Array;
using nnx::DType;

template <class T> Array ramp(nnx::Shape shape, double start, double step) {
  std::vector<T> v(static_cast<std::size_t>(nnx::shape_numel(shape)));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<T>(start + step * static_cast<double>(i % 11));
  return Array::from_values<T>(std::move(shape), v);
}


}  // namespace

TEST_CASE_TEMPLATE("Linear: kernel (in, out), bias (out), y = x W + b", T, float, double) {
  const DType dtype = nnx::dtype_of<T>();
  nnx::Rngs rngs(0);
  nnx::Linear fc(4, 3, rngs, {.dtype = dtype, .bias_init = nnx::init::normal(1.0)});
  CHECK(fc.kernel.value.shape_dtype() == nnx::ShapeDtype{{4, 3}, dtype});
  REQUIRE(fc.bias.has_value());
  CHECK(fc.bias->value.shape_dtype() == nnx::ShapeDtype{{3}, dtype});
  CHECK(fc.kernel.kind() == nnx::Param::static_kind());

  const Array x = ramp<T>({5, 4}, -1.0, 0.25);
  const Array y = fc(x);
  REQUIRE(y.shape_dtype() == nnx::ShapeDtype{{5, 3}, dtype});
  const T* w = fc.kernel.value.data<T>();
  const T* b = fc.bias->value.data<T>();
  for (int r = 0; r < 5; ++r)
    for (int c = 0; c < 3; ++c) {
      double expected = static_cast<double>(b[c]);
      for (int k = 0; k < 4; ++k) expected += static_cast<double>(x.data<T>()[r * 4 + k]) * static_cast<double>(w[k * 3 + c]);
      CAPTURE(r);
      CAPTURE(c);
      CHECK(static_cast<double>(y.data<T>()[r * 3 + c]) == doctest::Approx(expected).epsilon(1e-5));
    }
  // Leading axes are batch axes.
  CHECK(fc(ramp<T>({2, 5, 4}, 0.0, 0.1)).shape() == nnx::Shape{2, 5, 3});
}

TEST_CASE("Linear without bias has no bias variable and computes x W") {
  nnx::Rngs rngs(1);
  nnx::Linear fc(3, 2, rngs, {.use_bias = false});
  CHECK_FALSE(fc.bias.has_value());
  CHECK(paths_of(nnx::state(fc)) == std::vector<std::string>{"kernel"});
  const Array x = ramp<float>({4, 3}, 0.5, 1.0);
  CHECK(nnx::array_equal(fc(x), nnx::matmul(x, fc.kernel.value)));
  // One draw from the params stream only.
  CHECK(rngs.stream("params").current_count() == 1);
}

TEST_CASE("Linear's input width mismatch names the expected and the actual width") {
  nnx::Rngs rngs(0);
  nnx::Linear fc(4, 3, rngs);
  CHECK_THROWS_WITH_AS(fc(Array::zeros({2, 5}, DType::float32)),
                       doctest::Contains("expected input (..., 4), got float32[2,5]"), nnx::Error);
  CHECK_THROWS_WITH_AS(nnx::Linear(0, 3, rngs), doctest::Contains("must be > 0"), nnx::Error);
}

TEST_CASE("Linear initialises as Flax: kernel from the first params draw, then the bias draw") {
  nnx::Rngs rngs({{"params", 5}, {"dropout", 6}});
  nnx::Linear fc(6, 4, rngs);
  nnx::Rngs replay({{"params", 5}});
  const nnx::Key kernel_key = replay.params();
  CHECK(kernel_key == nnx::fold_in(nnx::key_from_seed(5), 0));
  CHECK(nnx::array_equal(fc.kernel.value, nnx::init::lecun_normal()(kernel_key, {6, 4}, DType::float32)));
  CHECK(nnx::array_equal(fc.bias->value, Array::zeros({4}, DType::float32)));
  // Two params draws (kernel, bias), none from dropout.
  CHECK(rngs.stream("params").current_count() == 2);
  CHECK(rngs.stream("dropout").current_count() == 0);
  // A custom bias initializer receives the second draw.
  nnx::Rngs again({{"params", 5}});
  nnx::Linear fc2(6, 4, again, {.bias_init = nnx::init::normal(1.0)});
  nnx::Rngs third({{"params", 5}});
  third.params();
  CHECK(nnx::array_equal(fc2.bias->value, nnx::init::normal(1.0)(third.params(), {4}, DType::float32)));
  // The next Linear continues the sequence.
  nnx::Linear next(4, 2, rngs);
  CHECK(nnx::array_equal(next.kernel.value, nnx::init::lecun_normal()(nnx::fold_in(nnx::key_from_seed(5), 2), {4, 2},
                                                                       DType::float32)));
}

TEST_CASE("Dropout: identity in eval(), masks in train(), each call advances its own stream") {
  nnx::Rngs rngs({{"params", 0}, {"dropout", 3}});
  nnx::Dropout drop(0.5, rngs);
  // The layer's own stream: key = the draw from rngs' dropout stream, count 0, tag "dropout".
  CHECK(rngs.stream("dropout").current_count() == 1);
  CHECK(drop.rngs.current_key() == nnx::fold_in(nnx::key_from_seed(3), 0));
  CHECK(drop.rngs.current_count() == 0);
  CHECK(paths_of(nnx::state(drop)) == std::vector<std::string>{"rngs/count", "rngs/key"});
  CHECK(nnx::state(drop).at("rngs/key").meta("tag") == "dropout");

  const Array x = Array::ones({64, 64}, DType::float32);
  CHECK(drop.is_training());
  const Array y1 = drop(x);
  CHECK(drop.rngs.current_count() == 1);
  CHECK(nnx::array_equal(y1, nnx::dropout(x, 0.5, nnx::fold_in(drop.rngs.current_key(), 0))));
  const Array y2 = drop(x);
  CHECK(drop.rngs.current_count() == 2);
  CHECK_FALSE(nnx::array_equal(y1, y2));
  CHECK(nnx::array_equal(y2, nnx::dropout(x, 0.5, nnx::fold_in(drop.rngs.current_key(), 1))));
  // The Rngs it was built from is not consumed by calls.
  CHECK(rngs.stream("dropout").current_count() == 1);

  drop.eval();
  CHECK_FALSE(drop.is_training());
  const Array z = drop(x);
  CHECK(nnx::array_equal(z, x));
  CHECK(drop.rngs.current_count() == 2);
  drop.train();
  drop(x);
  CHECK(drop.rngs.current_count() == 3);

  // Rate 0 never draws; a bad rate is refused.
  nnx::Dropout none(0.0, rngs);
  CHECK(nnx::array_equal(none(x), x));
  CHECK(none.rngs.current_count() == 0);
  CHECK_THROWS_WITH_AS(nnx::Dropout(1.0, rngs), doctest::Contains("[0, 1)"), nnx::Error);
}

TEST_CASE("Dropout falls back to the default stream and keeps its own tag") {
  nnx::Rngs rngs(9);
  nnx::Dropout drop(0.2, rngs);
  CHECK(drop.rngs.current_key() == nnx::fold_in(nnx::key_from_seed(9), 0));
  CHECK(drop.rngs.tag() == "dropout");
  nnx::Dropout custom(0.2, rngs, "noise");
  CHECK(custom.rngs.tag() == "noise");
  CHECK(custom.rngs.current_key() == nnx::fold_in(nnx::key_from_seed(9), 1));
}

TEST_CASE_TEMPLATE("BatchNorm: batch statistics in training, running averages updated, running stats in eval", T,
                   float, double) {
  const DType dtype = nnx::dtype_of<T>();
  nnx::Rngs rngs(0);
  const double momentum = 0.9, eps = 1e-5;
  nnx::BatchNorm bn(2, rngs, {.momentum = momentum, .epsilon = eps, .dtype = dtype});
  CHECK(bn.scale->kind() == nnx::Param::static_kind());
  CHECK(bn.bias->kind() == nnx::Param::static_kind());
  CHECK(bn.mean.kind() == nnx::BatchStat::static_kind());
  CHECK(bn.var.kind() == nnx::BatchStat::static_kind());
  CHECK(paths_of(nnx::state(bn)) == std::vector<std::string>{"bias", "mean", "scale", "var"});
  CHECK(nnx::array_equal(bn.mean.value, Array::zeros({2}, dtype)));
  CHECK(nnx::array_equal(bn.var.value, Array::ones({2}, dtype)));

  // Columns {1, 3, 5, 7} (mean 4, var 5) and {2, 2, 2, 6} (mean 3, var 3).
  const Array x = Array::from_values<T>({4, 2}, {1, 2, 3, 2, 5, 2, 7, 6});
  const double bm[2] = {4, 3}, bv[2] = {5, 3};
  const double tol = std::is_same_v<T, float> ? 1e-6 : 1e-12;
  const Array y = bn(x);
  for (int i = 0; i < 8; ++i) {
    const int f = i % 2;
    CHECK(static_cast<double>(y.data<T>()[i]) ==
          doctest::Approx((static_cast<double>(x.data<T>()[i]) - bm[f]) / std::sqrt(bv[f] + eps)).epsilon(tol).scale(1.0));
  }
  double mean1[2], var1[2];
  for (int f = 0; f < 2; ++f) {
    mean1[f] = momentum * 0 + (1 - momentum) * bm[f];
    var1[f] = momentum * 1 + (1 - momentum) * bv[f];
    CHECK(static_cast<double>(bn.mean.value.data<T>()[f]) == doctest::Approx(mean1[f]).epsilon(tol));
    CHECK(static_cast<double>(bn.var.value.data<T>()[f]) == doctest::Approx(var1[f]).epsilon(tol));
  }
  // A second training step averages again.
  bn(x);
  for (int f = 0; f < 2; ++f) {
    CHECK(static_cast<double>(bn.mean.value.data<T>()[f]) ==
          doctest::Approx(momentum * mean1[f] + (1 - momentum) * bm[f]).epsilon(tol));
    CHECK(static_cast<double>(bn.var.value.data<T>()[f]) ==
          doctest::Approx(momentum * var1[f] + (1 - momentum) * bv[f]).epsilon(tol));
  }

  // Evaluation: running statistics, scale and bias applied, nothing updated.
  bn.scale->value = Array::from_values<T>({2}, {2, 3});
  bn.bias->value = Array::from_values<T>({2}, {-1, 1});
  const nnx::State before = nnx::state(bn);
  bn.eval();
  const Array e = bn(x);
  CHECK(nnx::state_equal(nnx::state(bn), before));
  const T* rm = bn.mean.value.data<T>();
  const T* rv = bn.var.value.data<T>();
  const double s[2] = {2, 3}, b[2] = {-1, 1};
  for (int i = 0; i < 8; ++i) {
    const int f = i % 2;
    const double expected = (static_cast<double>(x.data<T>()[i]) - static_cast<double>(rm[f])) /
                                std::sqrt(static_cast<double>(rv[f]) + eps) * s[f] + b[f];
    CHECK(static_cast<double>(e.data<T>()[i]) == doctest::Approx(expected).epsilon(tol).scale(1.0));
  }
  CHECK_THROWS_WITH_AS(bn(Array::zeros({4, 3}, dtype)), doctest::Contains(("got " + std::string(nnx::dtype_name(dtype)) + "[4,3]").c_str()),
                       nnx::Error);
}

TEST_CASE("Sequential of Linear / ActivationLayer / Linear: integer-keyed paths and manual composition") {
  nnx::Rngs rngs(0);
  nnx::Linear l1(4, 8, rngs, {.bias_init = nnx::init::normal(0.5)});
  nnx::Linear l2(8, 2, rngs, {.bias_init = nnx::init::normal(0.5)});
  nnx::Sequential net(l1, nnx::ActivationLayer(nnx::Activation::relu), l2);
  REQUIRE(net.layers.size() == 3);

  const nnx::State s = nnx::state(net);
  CHECK(paths_of(s) == std::vector<std::string>{"layers/0/bias", "layers/0/kernel", "layers/2/bias", "layers/2/kernel"});
  CHECK(s.contains(nnx::Path{"layers", 0, "kernel"}));
  CHECK(s.at(nnx::Path{"layers", 2, "bias"}).value.shape() == nnx::Shape{2});
  for (const auto& [path, var] : s) {
    CHECK(path[1].is_index());  // 0 and 2 are integer keys, not strings
    CHECK(var.kind() == nnx::Param::static_kind());
  }
  CHECK(nnx::array_equal(s.at("layers/0/kernel").value, l1.kernel.value));

  const Array x = ramp<float>({3, 4}, -1.0, 0.3);
  CHECK(nnx::array_equal(net(x), l2(nnx::relu(l1(x)))));

  // train()/eval() reach a Dropout inside a Sequential.
  nnx::Sequential with_drop(l1, nnx::Dropout(0.5, rngs), l2);
  auto& drop = dynamic_cast<nnx::Dropout&>(*with_drop.layers[1]);
  with_drop.eval();
  CHECK_FALSE(drop.is_training());
  CHECK(nnx::array_equal(with_drop(x), l2(l1(x))));
  with_drop.train();
  CHECK(drop.is_training());
  with_drop(x);
  CHECK(drop.rngs.current_count() == 1);
  CHECK(nnx::state(with_drop).contains(nnx::Path{"layers", 1, "rngs", "key"}));
}

TEST_CASE("layers and the DataLoader accept a temporary Rngs and equal those built from a named one") {
  struct Case {
    const char* name;
    nnx::State (*from_temporary)();
    nnx::State (*from_named)(nnx::Rngs&);
  };
  const Case cases[] = {
      {"Linear", [] { return nnx::state(nnx::Linear(3, 2, nnx::Rngs(7))); },
       [](nnx::Rngs& r) { return nnx::state(nnx::Linear(3, 2, r)); }},
      {"BatchNorm", [] { return nnx::state(nnx::BatchNorm(3, nnx::Rngs(7), {.momentum = 0.5})); },
       [](nnx::Rngs& r) { return nnx::state(nnx::BatchNorm(3, r, {.momentum = 0.5})); }},
      {"Dropout", [] { return nnx::state(nnx::Dropout(0.2, nnx::Rngs(7))); },
       [](nnx::Rngs& r) { return nnx::state(nnx::Dropout(0.2, r)); }},
      {"DataLoader",
       [] {
         return nnx::state(nnx::DataLoader(
             nnx::make_dataset(Array::zeros({6, 2}, DType::float32), Array::zeros({6}, DType::int32)), 2, nnx::Rngs(7)));
       },
       [](nnx::Rngs& r) {
         return nnx::state(
             nnx::DataLoader(nnx::make_dataset(Array::zeros({6, 2}, DType::float32), Array::zeros({6}, DType::int32)), 2, r));
       }},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    nnx::Rngs named(7);
    const nnx::State expected = c.from_named(named);
    CHECK(nnx::state_equal(c.from_temporary(), expected));
    CHECK_FALSE(expected.empty());
  }
}
