#include "nnx/losses.hpp"

#include <algorithm>
#include <cmath>

#include "nnx/ops.hpp"
#include "nnx/portable_math.hpp"
#include "ops/kernels.hpp"

namespace nnx {

using detail::Grads;
using detail::Node;

namespace {
std::vector<std::int64_t> labels_of(const char* op, const Array& labels, std::int64_t rows, std::int64_t classes) {
  if (labels.numel() != rows)
    throw Error(std::string(op) + ": expected " + std::to_string(rows) + " labels, got " + labels.shape_dtype().str());
  std::vector<std::int64_t> out(static_cast<std::size_t>(rows));
  if (labels.dtype() == DType::int32) {
    for (std::int64_t i = 0; i < rows; ++i) out[static_cast<std::size_t>(i)] = labels.data<std::int32_t>()[i];
  } else if (labels.dtype() == DType::int64) {
    for (std::int64_t i = 0; i < rows; ++i) out[static_cast<std::size_t>(i)] = labels.data<std::int64_t>()[i];
  } else {
    throw Error(std::string(op) + ": labels must be int32 or int64 class indices, got " + labels.shape_dtype().str() +
                " (for probability targets use softmax_cross_entropy_with_probs)");
  }
  for (std::int64_t i = 0; i < rows; ++i)
    if (out[static_cast<std::size_t>(i)] < 0 || out[static_cast<std::size_t>(i)] >= classes)
      throw Error(std::string(op) + ": label " + std::to_string(out[static_cast<std::size_t>(i)]) + " of row " +
                  std::to_string(i) + " is outside [0, " + std::to_string(classes) + ")");
  return out;
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
  const std::vector<std::int64_t> y = labels_of("softmax_cross_entropy", labels, rows, classes);
  Array probs = Array::empty(logits.shape(), logits.dtype());
  double total = 0;
  detail::floating("softmax_cross_entropy", logits, [&](auto t) {
    using T = decltype(t);
    const T* x = logits.data<T>();
    T* p = probs.mutable_data<T>();
    std::vector<double> e(static_cast<std::size_t>(classes));
    for (std::int64_t r = 0; r < rows; ++r) {
      const T* row = x + r * classes;
      const double m = *std::max_element(row, row + classes);
      double s = 0;
      for (std::int64_t c = 0; c < classes; ++c) s += (e[static_cast<std::size_t>(c)] = portable::exp(row[c] - m));
      const double inv_s = 1.0 / s;
      for (std::int64_t c = 0; c < classes; ++c) p[r * classes + c] = static_cast<T>(e[static_cast<std::size_t>(c)] * inv_s);
      total += -(row[y[static_cast<std::size_t>(r)]] - m - portable::log(s));
    }
  });
  Array loss = Array::full({}, logits.dtype(), total / static_cast<double>(rows));
  const detail::Rule rule = [](const Array& g, const Node& n, Grads& d) {
    const Array& probs = n.saved[0];
    const std::int64_t classes = probs.dim(-1), rows = probs.numel() / classes;
    const std::vector<std::int64_t> y = labels_of("softmax_cross_entropy", n.saved[1], rows, classes);
    Array gl = probs.copy();  // (softmax - onehot) * g / rows
    detail::floating("softmax_cross_entropy backward", gl, [&](auto t) {
      using T = decltype(t);
      T* p = gl.mutable_data<T>();
      const double k = static_cast<double>(g.data<T>()[0]) / static_cast<double>(rows);
      for (std::int64_t r = 0; r < rows; ++r) p[r * classes + y[static_cast<std::size_t>(r)]] -= T(1);
      for (std::int64_t i = 0; i < gl.numel(); ++i) p[i] = static_cast<T>(p[i] * k);
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
    const std::vector<std::int64_t> y = labels_of("accuracy", labels, rows, classes);
    const Array predicted = argmax(logits);
    for (std::int64_t r = 0; r < rows; ++r) correct += predicted.data<std::int32_t>()[r] == y[static_cast<std::size_t>(r)];
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
