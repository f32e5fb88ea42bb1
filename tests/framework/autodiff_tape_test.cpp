// The tape itself: what an op records (nothing on constants, one node on tracked inputs), and the
// printed tape a user sees from nnx::debug::print_tape.
#include <doctest/doctest.h>

#include <sstream>
#include <string>

#include <nnx/nnx.hpp>

#include "../../framework/src/autodiff/tape.hpp"  // white-box: Tape and record() directly

namespace {

using nnx::Array;
using nnx::DType;

struct Ab : nnx::Module {
  nnx::Param a{Array::from_values<double>({3}, {0.5, -1.0, 2.0})};
  nnx::Param b{Array::from_values<double>({2}, {1.0, 3.0})};
  NNX_FIELDS(a, b)
};

std::string printed_tape() {
  std::ostringstream os;
  nnx::debug::print_tape(os);
  return os.str();
}

}  // namespace

TEST_CASE("debug::print_tape lists each node: index, op, inputs, output type") {
  Ab m;
  const Array x = Array::from_values<double>({3}, {1.0, 2.0, 3.0});
  std::string inside;
  (void)nnx::value_and_grad(m, [&](Ab& mod) {
    const Array y = nnx::mul(x, mod.a.value);
    const Array y2 = nnx::sum(nnx::mul(y, y));
    const Array z = nnx::add(y2, nnx::sum(mod.b.value));
    inside = printed_tape();
    return z;
  });
  CHECK(inside ==
        "tape: 9 nodes, recording\n"
        "  #0 leaf a -> float64[3]\n"
        "  #1 leaf b -> float64[2]\n"
        "  #2 mul(const, #0) -> float64[3]\n"
        "  #3 mul(#2, #2) -> float64[3]\n"
        "  #4 sum(#3) -> float64[1]\n"
        "  #5 reshape(#4) -> float64[]\n"
        "  #6 sum(#1) -> float64[1]\n"
        "  #7 reshape(#6) -> float64[]\n"
        "  #8 add(#5, #7) -> float64[]\n");
  CHECK(printed_tape() == "tape: none (not inside value_and_grad on this thread)\n");
}

TEST_CASE("record: an op on constants records nothing, an op on a tracked input records one node") {
  Ab m;
  const Array x = Array::from_values<double>({3}, {1.0, 2.0, 3.0});
  (void)nnx::value_and_grad(m, [&](Ab& mod) {
    const std::string before = printed_tape();
    const Array c = nnx::exp(nnx::mul(x, x));
    CHECK(c.grad_node() == -1);
    CHECK(printed_tape() == before);
    const Array t = nnx::mul(x, mod.a.value);
    CHECK(t.grad_node() == 2);
    CHECK(printed_tape() ==
          "tape: 3 nodes, recording\n"
          "  #0 leaf a -> float64[3]\n"
          "  #1 leaf b -> float64[2]\n"
          "  #2 mul(const, #0) -> float64[3]\n");
    return nnx::sum(t);
  });
}

TEST_CASE("Tape::print marks the nodes a gradient reached") {
  nnx::detail::Tape tape;
  tape.start();
  Array w = Array::from_values<float>({2}, {1.f, 2.f});
  tape.add_leaf(w);
  const Array unused = nnx::exp(w);  // recorded, but the loss does not depend on it
  const Array loss = nnx::sum(nnx::square(w));
  // record() itself: false, and the output stays untracked, when no input is tracked
  Array out = Array::zeros({2}, DType::float32);
  const Array constant = Array::ones({2}, DType::float32);
  CHECK_FALSE(nnx::detail::record(out, "test", {constant}, {}, nullptr));
  CHECK(out.grad_node() == -1);
  tape.backward(loss);
  std::ostringstream os;
  tape.print(os);
  tape.reset();
  CHECK(os.str() ==
        "tape: 5 nodes\n"
        "  #0 leaf -> float32[2]  grad\n"
        "  #1 exp(#0) -> float32[2]\n"
        "  #2 pow(#0) -> float32[2]  grad\n"
        "  #3 sum(#2) -> float32[1]  grad\n"
        "  #4 reshape(#3) -> float32[]  grad\n");
  CHECK(w.grad_node() == -1);  // reset: stale ids no longer count
}
