// nnx/losses.hpp — losses (differentiable, scalar) and metrics (plain numbers).
//
//   auto [loss, grads] = nnx::value_and_grad(model, [&](auto& m) {
//     return nnx::add(nnx::softmax_cross_entropy(m(x), labels),
//                     nnx::scale(nnx::l2_penalty(nnx::state(m, nnx::Param{})), 1e-4));
//   });
//   double acc = nnx::accuracy(model(x), labels);
//
// Every loss is the mean over the batch (the leading axes) and returns an Array of shape {}.
// Cross-entropies are fused: one tape node, numerically stable log-sum-exp.
#pragma once

#include <cstdint>

#include "nnx/array.hpp"
#include "nnx/state.hpp"

namespace nnx {

// mean((prediction - target)^2) over all elements; shapes must match.
Array mse(const Array& prediction, const Array& target);
// Integer labels (int32 / int64) of shape (...), logits (..., classes): mean of -log softmax[label].
Array softmax_cross_entropy(const Array& logits, const Array& labels);
// Probability targets of the logits' shape: mean over rows of -sum(target * log_softmax(logits)).
Array softmax_cross_entropy_with_probs(const Array& logits, const Array& targets);
// Targets in [0, 1] of the logits' shape: mean of max(x,0) - x t + log(1 + exp(-|x|)).
Array binary_cross_entropy_with_logits(const Array& logits, const Array& targets);
// Sum of squares of every value in `state` (take it inside the loss function, e.g.
// nnx::state(m, nnx::Param{}), so the gradient reaches the parameters). Scale it yourself.
Array l2_penalty(const State& state);

// Fraction of rows whose largest logit is at the label (labels int32 / int64), or, for a single
// logit column, whose sign matches a 0/1 label.
double accuracy(const Array& logits, const Array& labels);
// 1 - SS_res / SS_tot over all elements: the coefficient of determination.
double r2_score(const Array& prediction, const Array& target);

// A weighted mean accumulated over many batches (e.g. the loss over an evaluation set).
class MeanMetric {
 public:
  void update(double value, double weight = 1.0) {
    total_ += value * weight;
    weight_ += weight;
  }
  double value() const { return weight_ > 0 ? total_ / weight_ : 0.0; }
  double weight() const { return weight_; }
  void reset() { total_ = weight_ = 0; }

 private:
  double total_ = 0, weight_ = 0;
};

// An exponential moving average, bias-corrected like Adam's moments so the first values are
// not dragged towards 0: value = ema / (1 - decay^count).
class RunningAverage {
 public:
  explicit RunningAverage(double decay = 0.98) : decay_(decay) {}
  void update(double x) {
    ema_ = decay_ * ema_ + (1 - decay_) * x;
    correction_ *= decay_;
    ++count_;
  }
  double value() const { return count_ ? ema_ / (1 - correction_) : 0.0; }
  std::int64_t count() const { return count_; }

 private:
  double decay_, ema_ = 0, correction_ = 1;
  std::int64_t count_ = 0;
};

}  // namespace nnx
