// A gradient checker for the autodiff tests: nnx::value_and_grad against central finite
// differences in float64, over every element of every Param of a module.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include <nnx/nnx.hpp>

namespace gradcheck {

inline double scalar_of(const nnx::Array& a) { return a.astype(nnx::DType::float64).item<double>(); }

// Deterministic float64 values: uniform in [lo, hi], each negated with probability 1/2 when
// `random_sign` (so |value| >= lo: away from the kinks of relu, abs, ... at 0).
inline nnx::Array pattern(const nnx::Shape& shape, std::uint64_t seed, double lo, double hi, bool random_sign) {
  const nnx::Key key = nnx::key_from_seed(seed);
  std::vector<double> v(static_cast<std::size_t>(nnx::shape_numel(shape)));
  for (std::size_t i = 0; i < v.size(); ++i) {
    const auto index = static_cast<std::uint32_t>(2 * i);
    v[i] = lo + (hi - lo) * nnx::init::uniform01(key, index);
    if (random_sign && nnx::init::uniform01(key, index + 1) < 0.5) v[i] = -v[i];
  }
  return nnx::Array::from_values<double>(shape, v);
}

struct Result {
  bool same_structure = false;  // grads have exactly the Params' paths, kinds, shapes, dtypes
  bool same_value = false;      // value_and_grad's loss equals the loss computed without the tape
  int checked = 0;              // elements compared
  int bad = 0;                  // elements whose analytic and numeric gradients differ
  std::string report;           // the first few of them
};

// Compares nnx::value_and_grad(module, loss_fn) with central differences of loss_fn called
// directly (no tape), for every element of every float64 Param: |analytic - numeric| must be at
// most tolerance * (1 + |numeric|). The module's whole state (BatchStats, RNG counters) is
// restored before every evaluation, so evaluations that update state (running averages) or draw a
// key (dropout) all see the same state.
template <class M, class F> Result compare_gradients(M& module, F& loss_fn, double tolerance = 1e-6, double step = 1e-6) {
  const nnx::State snapshot = nnx::state(module);
  const nnx::State params = nnx::state(module, nnx::Param{});
  auto evaluate = [&](const nnx::State& change) {
    nnx::update(module, snapshot, change);
    return scalar_of(loss_fn(module));
  };
  nnx::update(module, snapshot);
  auto vg = nnx::value_and_grad(module, loss_fn);
  const nnx::Array loss = vg.value;
  const nnx::State grads = vg.grads;
  Result result;
  result.same_structure = nnx::compare_structure(params, grads).empty();
  result.same_value = scalar_of(loss) == evaluate(nnx::State{});

  std::ostringstream report;
  for (const auto& entry : params) {
    const nnx::Path& path = entry.first;
    const nnx::Variable& var = entry.second;
    REQUIRE(var.value.dtype() == nnx::DType::float64);
    const double* analytic = grads.at(path).value.data<double>();
    for (std::int64_t i = 0; i < var.value.numel(); ++i) {
      const double x = var.value.data<double>()[i];
      auto moved = [&](double delta, double& where) {
        nnx::Array v = var.value.copy();
        where = (v.mutable_data<double>()[i] += delta);
        nnx::State one;
        one.set(path, nnx::Variable(var.kind(), v, var.metadata));
        return evaluate(one);
      };
      const double h = step * std::max(1.0, std::abs(x));
      double xp = 0, xm = 0;
      const double fp = moved(h, xp), fm = moved(-h, xm);
      const double numeric = (fp - fm) / (xp - xm);
      ++result.checked;
      if (!(std::abs(analytic[i] - numeric) <= tolerance * (1.0 + std::abs(numeric))) && ++result.bad <= 5)
        report << path << "[" << i << "]: analytic " << analytic[i] << ", numeric " << numeric << " (x = " << x << ")\n";
    }
  }
  nnx::update(module, snapshot);
  result.report = report.str();
  return result;
}

// Asserts that a comparison found no difference.
inline void check_result(const Result& r) {
  CHECK(r.same_structure);
  CHECK(r.same_value);
  CHECK(r.checked > 0);
  CHECK_MESSAGE(r.bad == 0, r.bad << " of " << r.checked << " gradient elements differ:\n" << r.report);
}

// compare_gradients, asserted. Returns the number of elements checked.
template <class M, class F> int check_gradients(M& module, F& loss_fn, double tolerance = 1e-6) {
  const Result r = compare_gradients(module, loss_fn, tolerance);
  check_result(r);
  return r.checked;
}

}  // namespace gradcheck
