#include "nnx/losses.hpp"

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "nnx/ops.hpp"
#include "nnx/portable_math.hpp"
#include "ops/kernels.hpp"

namespace nnx {

using detail::Grads;
using detail::Node;

namespace {
// Checks the class labels (int32 or int64, one per row, each in [0, classes)) and calls
// f(const L* labels) with their typed pointer.
template <class F>
void with_labels(const char* op, const Array& labels, std::int64_t rows, std::int64_t classes, F&& f) {
  if (labels.numel() != rows)
    throw Error(std::string(op) + ": expected " + std::to_string(rows) + " labels, got " + labels.shape_dtype().str());
  auto check = [&](const auto* y) {
    for (std::int64_t i = 0; i < rows; ++i)
      if (y[i] < 0 || y[i] >= classes)
        throw Error(std::string(op) + ": label " + std::to_string(y[i]) + " of row " + std::to_string(i) +
                    " is outside [0, " + std::to_string(classes) + ")");
    f(y);
  };
  if (labels.dtype() == DType::int32) check(labels.data<std::int32_t>());
  else if (labels.dtype() == DType::int64) check(labels.data<std::int64_t>());
  else
    throw Error(std::string(op) + ": labels must be int32 or int64 class indices, got " + labels.shape_dtype().str() +
                " (for probability targets use softmax_cross_entropy_with_probs)");
}

// Softmax cross-entropy of `rows` rows: writes the probabilities, returns the sum over rows (in
// row order) of -log p[y]. Every sum over classes runs in class order, and the transcendental
// passes are flat loops over elements (they vectorise; each element's result is the same IEEE
// operations in any lane), so the bits depend on nothing but the inputs. float rows use float
// arithmetic (portable::expf / logf), double rows double.
template <class T, class L>
double softmax_rows(const T* x, T* p, std::int64_t rows, std::int64_t classes, const L* y) {
  const std::int64_t n = rows * classes;
  for (std::int64_t r = 0; r < rows; ++r) {  // p = x - the row's max
    const T* xr = x + r * classes;
    T m = xr[0];
    for (std::int64_t c = 1; c < classes; ++c) m = xr[c] > m ? xr[c] : m;
    for (std::int64_t c = 0; c < classes; ++c) p[r * classes + c] = xr[c] - m;
  }
  double total = 0;
  for (std::int64_t r = 0; r < rows; ++r) total -= static_cast<double>(p[r * classes + y[r]]);  // -(x[y] - max)
  if constexpr (std::is_same_v<T, float>) {
    for (std::int64_t i = 0; i < n; ++i) p[i] = portable::expf(p[i]);
  } else {
    for (std::int64_t i = 0; i < n; ++i) p[i] = portable::exp(p[i]);
  }
  static thread_local std::vector<T> sums;  // each row's sum; reused, so a step allocates nothing
  sums.resize(static_cast<std::size_t>(rows));
  for (std::int64_t r = 0; r < rows; ++r) {
    T* pr = p + r * classes;
    T s = 0;
    for (std::int64_t c = 0; c < classes; ++c) s += pr[c];
    const T inv = T(1) / s;
    for (std::int64_t c = 0; c < classes; ++c) pr[c] *= inv;
    sums[static_cast<std::size_t>(r)] = s;
  }
  if constexpr (std::is_same_v<T, float>) {  // a flat pass: vectorises
    for (float& s : sums) s = portable::logf(s);
  } else {
    for (double& s : sums) s = portable::log(s);
  }
  for (const T log_sum : sums) total += static_cast<double>(log_sum);  // rows in order
  return total;
}
// s.astype(dtype), differentiable: Array::astype is not recorded on the tape, so without this the
// gradient of a penalty term of another dtype than the first would be silently lost.
Array cast_scalar(const Array& s, DType dtype) {
  Array out = s.astype(dtype);
  detail::record(out, "astype", {s}, {}, [](const Array& g, const Node&, Grads& d) {
    d[0] = g.astype(d.type(0).dtype);
  });
  return out;
}
}  // namespace

Array mse(const Array& prediction, const Array& target) {
  if (!(prediction.shape() == target.shape()))
    throw Error("mse: prediction " + prediction.shape_dtype().str() + " and target " + target.shape_dtype().str() +
                " must have one shape");
  return mean(square(sub(prediction, target)));
}

Array softmax_cross_entropy(const Array& logits, const Array& labels) {
  if (logits.ndim() < 1) throw Error("softmax_cross_entropy: logits need a class axis, got " + logits.shape_dtype().str());
  const std::int64_t classes = logits.dim(-1);
  const std::int64_t rows = classes ? logits.numel() / classes : 0;
  if (rows == 0) throw Error("softmax_cross_entropy: empty batch " + logits.shape_dtype().str());
  Array probs = Array::empty(logits.shape(), logits.dtype());
  double total = 0;  // summed over rows in order
  detail::floating("softmax_cross_entropy", logits, [&](auto t) {
    using T = decltype(t);
    const T* x = logits.data<T>();
    T* p = probs.mutable_data<T>();
    with_labels("softmax_cross_entropy", labels, rows, classes,
                [&](const auto* y) { total = softmax_rows(x, p, rows, classes, y); });
  });
  Array loss = Array::full({}, logits.dtype(), total / static_cast<double>(rows));
  const detail::Rule rule = [](const Array& g, const Node& n, Grads& d) {
    const Array& probs = n.saved[0];
    const std::int64_t classes = probs.dim(-1), rows = probs.numel() / classes;
    Array gl = Array::empty(probs.shape(), probs.dtype());  // (softmax - onehot) * g / rows
    detail::floating("softmax_cross_entropy backward", gl, [&](auto t) {
      using T = decltype(t);
      const T* p = probs.data<T>();
      T* out = gl.mutable_data<T>();
      const T k = static_cast<T>(static_cast<double>(g.data<T>()[0]) / static_cast<double>(rows));
      with_labels("softmax_cross_entropy", n.saved[1], rows, classes, [&](const auto* y) {
        for (std::int64_t r = 0; r < rows; ++r)
          for (std::int64_t c = 0; c < classes; ++c)
            out[r * classes + c] = (p[r * classes + c] - (c == y[r] ? T(1) : T(0))) * k;
      });
    });
    d[0] = std::move(gl);
  };
  detail::record(loss, "softmax_cross_entropy", {logits}, {.arrays = {probs, labels}}, rule);
  return loss;
}

Array softmax_cross_entropy_with_probs(const Array& logits, const Array& targets) {
  if (!(logits.shape() == targets.shape()))
    throw Error("softmax_cross_entropy_with_probs: logits " + logits.shape_dtype().str() + " and targets " +
                targets.shape_dtype().str() + " must have one shape");
  return neg(mean(sum(mul(targets, log_softmax(logits)), {-1})));
}

Array binary_cross_entropy_with_logits(const Array& logits, const Array& targets) {
  if (!(logits.shape() == targets.shape()))
    throw Error("binary_cross_entropy_with_logits: logits " + logits.shape_dtype().str() + " and targets " +
                targets.shape_dtype().str() + " must have one shape");
  if (logits.numel() == 0) throw Error("binary_cross_entropy_with_logits: empty batch");
  double total = 0;
  detail::floating("binary_cross_entropy_with_logits", logits, [&](auto t) {
    using T = decltype(t);
    const T* x = logits.data<T>();
    const T* z = targets.data<T>();
    for (std::int64_t i = 0; i < logits.numel(); ++i)
      total += std::max<double>(x[i], 0.0) - static_cast<double>(x[i]) * z[i] +
               portable::log1p(portable::exp(-std::fabs(static_cast<double>(x[i]))));
  });
  const double n = static_cast<double>(logits.numel());
  Array loss = Array::full({}, logits.dtype(), total / n);
  const detail::Rule rule = [](const Array& g, const Node& node, Grads& d) {
    const Array &logits = node.saved[0], &targets = node.saved[1];
    Array gx = Array::empty(logits.shape(), logits.dtype());
    Array gz = Array::empty(logits.shape(), logits.dtype());
    detail::floating("binary_cross_entropy backward", g, [&](auto t) {
      using T = decltype(t);
      const double k = static_cast<double>(g.data<T>()[0]) / static_cast<double>(logits.numel());
      const T* x = logits.data<T>();
      const T* z = targets.data<T>();
      for (std::int64_t i = 0; i < logits.numel(); ++i) {
        gx.mutable_data<T>()[i] = static_cast<T>((portable::sigmoid(x[i]) - z[i]) * k);
        gz.mutable_data<T>()[i] = static_cast<T>(-x[i] * k);
      }
    });
    d[0] = std::move(gx);
    d[1] = std::move(gz);
  };
  detail::record(loss, "binary_cross_entropy_with_logits", {logits, targets}, {.arrays = {logits, targets}}, rule);
  return loss;
}

Array l2_penalty(const State& state) {
  Array total;
  bool first = true;
  for (const auto& [path, var] : state) {
    if (!dtype_is_floating(var.value.dtype())) continue;
    Array s = sum(square(var.value));
    if (first) {
      total = s;
      first = false;
    } else {
      if (s.dtype() != total.dtype()) s = cast_scalar(s, total.dtype());
      total = add(total, s);
    }
  }
  return first ? Array::zeros({}, DType::float32) : total;
}

double accuracy(const Array& logits, const Array& labels) {
  if (logits.ndim() < 1 || logits.numel() == 0) throw Error("accuracy: expected logits (..., classes), got " + logits.shape_dtype().str());
  const std::int64_t classes = logits.dim(-1);
  const std::int64_t rows = logits.numel() / classes;
  std::int64_t correct = 0;
  if (classes == 1) {  // binary: logit > 0 means class 1
    const Array y = labels.astype(DType::int64);
    if (y.numel() != rows) throw Error("accuracy: expected " + std::to_string(rows) + " labels, got " + labels.shape_dtype().str());
    const Array x = logits.astype(DType::float64);
    for (std::int64_t r = 0; r < rows; ++r) correct += (x.data<double>()[r] > 0) == (y.data<std::int64_t>()[r] != 0);
  } else {
    const Array predicted = argmax(logits);
    with_labels("accuracy", labels, rows, classes, [&](const auto* y) {
      for (std::int64_t r = 0; r < rows; ++r) correct += predicted.data<std::int32_t>()[r] == y[r];
    });
  }
  return static_cast<double>(correct) / static_cast<double>(rows);
}

double r2_score(const Array& prediction, const Array& target) {
  if (!(prediction.shape() == target.shape()) || target.numel() == 0)
    throw Error("r2_score: prediction " + prediction.shape_dtype().str() + " and target " + target.shape_dtype().str() +
                " must have one non-empty shape");
  const Array p = prediction.astype(DType::float64), t = target.astype(DType::float64);
  const double* pp = p.data<double>();
  const double* tp = t.data<double>();
  double m = 0;
  for (std::int64_t i = 0; i < t.numel(); ++i) m += tp[i];
  m /= static_cast<double>(t.numel());
  double res = 0, tot = 0;
  for (std::int64_t i = 0; i < t.numel(); ++i) {
    res += (tp[i] - pp[i]) * (tp[i] - pp[i]);
    tot += (tp[i] - m) * (tp[i] - m);
  }
  return tot > 0 ? 1.0 - res / tot : (res == 0 ? 1.0 : 0.0);
}

}  // namespace nnx
