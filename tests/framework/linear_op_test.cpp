// nnx::linear (ops.hpp): the fused dense op gives the bits of matmul, add and the activation in
// turn — output and every gradient, float and double, with and without bias, batch axes, on every
// FMA path and thread count — and its gradients agree with finite differences.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "fixtures.hpp"
#include "grad_check.hpp"

using namespace framework_test;

namespace {

using nnx::Activation;
using nnx::Array;
using nnx::DType;

struct DenseOperands : nnx::Module {
  nnx::Param x, kernel, bias;
  DenseOperands() = default;
  DenseOperands(Array x_, Array kernel_, Array bias_) : x(std::move(x_)), kernel(std::move(kernel_)), bias(std::move(bias_)) {}
  NNX_FIELDS(x, kernel, bias)
};

struct LinearCase {
  nnx::Shape x;
  std::int64_t out;
  bool use_bias;
  Activation activation;
};

const std::vector<LinearCase>& linear_cases() {
  static const std::vector<LinearCase> cases = {
      {{5, 3}, 4, true, Activation::relu},         {{5, 3}, 4, false, Activation::relu},
      {{5, 3}, 4, true, Activation::identity},     {{2, 3, 7}, 5, true, Activation::relu},
      {{33, 40}, 17, true, Activation::relu},      {{33, 40}, 17, true, Activation::tanh},
      {{300, 64}, 96, false, Activation::identity},
  };
  return cases;
}

// loss = sum(y * w) for fixed w, so each output's gradient is distinct.
Array weighted_sum(const Array& y, std::uint64_t seed) {
  return nnx::sum(nnx::mul(y, gradcheck::pattern(y.shape(), seed, 0.5, 1.5, true).astype(y.dtype())));
}

}  // namespace

TEST_CASE("linear is bitwise matmul + add + activation, forward and backward, on every path and thread count") {
  FmaSettingsGuard guard;
  nnx::set_matmul_backend(nnx::MatmulBackend::deterministic);
  int compared = 0;
  for (DType dtype : {DType::float32, DType::float64})
    for (std::size_t i = 0; i < linear_cases().size(); ++i) {
      const LinearCase& c = linear_cases()[i];
      CAPTURE(i);
      CAPTURE(dtype);
      const std::int64_t k = c.x.back();
      DenseOperands ops(gradcheck::pattern(c.x, 10 + i, 0.1, 1.0, true).astype(dtype),
                        gradcheck::pattern({k, c.out}, 20 + i, 0.1, 1.0, true).astype(dtype),
                        gradcheck::pattern({c.out}, 30 + i, 0.1, 1.0, true).astype(dtype));
      auto run = [&](bool fused) {
        return nnx::value_and_grad(ops, [&](DenseOperands& o) {
          Array y = fused ? (c.use_bias ? nnx::linear(o.x.value, o.kernel.value, o.bias.value, c.activation)
                                        : nnx::linear(o.x.value, o.kernel.value, c.activation))
                          : nnx::activate(c.activation, c.use_bias ? nnx::add(nnx::matmul(o.x.value, o.kernel.value), o.bias.value)
                                                                   : nnx::matmul(o.x.value, o.kernel.value));
          return std::pair{weighted_sum(y, 40 + i), y};
        });
      };
      on_every_fma_setting([&] {
        auto [loss_ref, y_ref, grads_ref] = run(false);
        auto [loss, y, grads] = run(true);
        CHECK(same_bits(y, y_ref));
        CHECK(same_bits(loss, loss_ref));
        for (const char* name : {"x", "kernel", "bias"}) {
          CAPTURE(name);
          CHECK(same_bits(grads.at(name).value, grads_ref.at(name).value));
        }
        if (c.activation == Activation::relu) {  // the mask really cut something
          std::int64_t zeros = 0;
          for (std::int64_t e = 0; e < y.numel(); ++e)
            zeros += dtype == DType::float32 ? y.data<float>()[e] == 0 : y.data<double>()[e] == 0;
          CHECK(zeros > 0);
          CHECK(zeros < y.numel());
        }
        ++compared;
      });
    }
  CHECK(compared >= 2 * static_cast<int>(linear_cases().size()) * 2);
}

TEST_CASE("linear's gradients agree with central finite differences (float64)") {
  for (std::size_t i = 0; i < 5; ++i) {  // the small cases
    const LinearCase& c = linear_cases()[i];
    CAPTURE(i);
    const std::int64_t k = c.x.back();
    DenseOperands ops(gradcheck::pattern(c.x, 50 + i, 0.1, 1.0, true), gradcheck::pattern({k, c.out}, 60 + i, 0.1, 1.0, true),
                      gradcheck::pattern({c.out}, 70 + i, 0.1, 1.0, true));
    auto loss = [&](DenseOperands& o) {
      return weighted_sum(c.use_bias ? nnx::linear(o.x.value, o.kernel.value, o.bias.value, c.activation)
                                     : nnx::linear(o.x.value, o.kernel.value, c.activation),
                          80 + i);
    };
    gradcheck::check_gradients(ops, loss, 1e-6);
  }
}

TEST_CASE("linear refuses mismatched shapes and dtypes by name, and is abstract under eval_shape") {
  const Array x = Array::zeros({4, 3}, DType::float32), w = Array::zeros({3, 2}, DType::float32);
  CHECK(has(error_of([&] { nnx::linear(x, Array::zeros({4, 2}, DType::float32)); }), "expected (..., k) x (k, n)"));
  CHECK(has(error_of([&] { nnx::linear(x, w, Array::zeros({3}, DType::float32)); }), "the bias must be (2)"));
  CHECK(has(error_of([&] { nnx::linear(x, w.astype(DType::float64)); }), "float64"));
  const Array abstract = nnx::linear(Array::abstract({4, 3}, DType::float32), w, Array::zeros({2}, DType::float32), Activation::relu);
  CHECK(abstract.is_abstract());
  CHECK(abstract.shape() == nnx::Shape{4, 2});
}
