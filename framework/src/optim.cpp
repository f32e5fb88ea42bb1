#include "nnx/optim.hpp"

#include <cmath>

#include "graph_walk.hpp"
#include "eigen.hpp"
#include "nnx/portable_math.hpp"
#include "ops/kernels.hpp"

namespace nnx {

namespace {
// base^n by repeated squaring: exact IEEE operations, the same bits everywhere (unlike std::pow).
double power(double base, std::int64_t n) {
  double result = 1.0;
  for (; n > 0; n >>= 1, base *= base)
    if (n & 1) result *= base;
  return result;
}

template <class T> using Vec = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>;
template <class T> Vec<T> as_vec(Array& a) { return Vec<T>(a.mutable_data<T>(), a.numel()); }
template <class T> Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>> as_vec(const Array& a) {
  return Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>(a.data<T>(), a.numel());
}

// The hot updates as plain loops over elements, one pass each, in the order of operations of the
// formulas above them (the same bits as the Eigen expressions they replace).
// sgd: with momentum, trace = g + m trace; g = nesterov ? g + m trace : trace. Then g *= -lr.
template <class T>
NNX_ELEMENTWISE_CLONES void sgd_kernel(T* g, T* trace, std::int64_t n, T momentum, bool nesterov, T neg_lr) {
  for (std::int64_t i = 0; i < n; ++i) {
    T u = g[i];
    if (trace) {
      const T tr = u + momentum * trace[i];
      trace[i] = tr;
      u = nesterov ? u + momentum * tr : tr;
    }
    g[i] = u * neg_lr;
  }
}
// adam(w): mu = b1 mu + (1-b1) g; nu = b2 nu + (1-b2) g^2; g = (mu/c1) / (sqrt(nu/c2) + eps)
// [+ wd p]; g *= -lr.
template <class T>
NNX_ELEMENTWISE_CLONES void adam_kernel(T* g, T* mu, T* nu, const T* p, std::int64_t n, T b1, T one_minus_b1, T b2,
                                        T one_minus_b2, T c1, T c2, T eps, T wd, T neg_lr) {
  for (std::int64_t i = 0; i < n; ++i) {
    const T gi = g[i];
    const T m = b1 * mu[i] + one_minus_b1 * gi;
    const T v = b2 * nu[i] + one_minus_b2 * (gi * gi);
    mu[i] = m;
    nu[i] = v;
    T u = (m / c1) / (std::sqrt(v / c2) + eps);
    if (p) u = u + wd * p[i];
    g[i] = u * neg_lr;
  }
}
// param += update.
template <class T> NNX_ELEMENTWISE_CLONES void add_into(T* param, const T* update, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) param[i] = param[i] + update[i];
}

// Calls f(T{}, i) for each parameter i, with T its dtype.
template <class F> void for_each_param(optim::UpdateContext& ctx, F f) {
  for (std::size_t i = 0; i < ctx.updates.size(); ++i)
    detail::floating("optimizer", *ctx.updates[i], [&](auto t) { f(t, i); });
}
}  // namespace

namespace schedules {
Schedule constant(double value) {
  return [value](std::int64_t) { return value; };
}

Schedule linear(double init, double end, std::int64_t transition_steps, std::int64_t begin) {
  if (transition_steps <= 0) throw Error("schedules::linear: transition_steps must be > 0");
  return [=](std::int64_t step) {
    const std::int64_t s = std::clamp<std::int64_t>(step - begin, 0, transition_steps);
    return init + (end - init) * static_cast<double>(s) / static_cast<double>(transition_steps);
  };
}

Schedule cosine_decay(double init, std::int64_t decay_steps, double alpha) {
  if (decay_steps <= 0) throw Error("schedules::cosine_decay: decay_steps must be > 0");
  return [=](std::int64_t step) {
    const double frac = static_cast<double>(std::min(step, decay_steps)) / static_cast<double>(decay_steps);
    const double cosine = 0.5 * (1.0 + portable::cos(3.14159265358979323846 * frac));
    return init * ((1.0 - alpha) * cosine + alpha);
  };
}

Schedule warmup_cosine_decay(double init, double peak, std::int64_t warmup_steps, std::int64_t decay_steps, double end) {
  if (warmup_steps < 0 || decay_steps <= warmup_steps)
    throw Error("schedules::warmup_cosine_decay: need 0 <= warmup_steps < decay_steps, got warmup_steps = " +
                std::to_string(warmup_steps) + ", decay_steps = " + std::to_string(decay_steps));
  Schedule warm = warmup_steps > 0 ? linear(init, peak, warmup_steps) : constant(peak);
  Schedule decay = cosine_decay(peak - end, decay_steps - warmup_steps);
  return [=](std::int64_t step) { return step < warmup_steps ? warm(step) : decay(step - warmup_steps) + end; };
}
}  // namespace schedules

namespace optim {
namespace {

class Sgd final : public Stage {
 public:
  Sgd(Schedule lr, double momentum, bool nesterov) : lr_(std::move(lr)), momentum_(momentum), nesterov_(nesterov) {}
  std::vector<std::string> slots() const override {
    if (momentum_ != 0) return {"trace"};
    return {};
  }
  std::string name() const override { return "sgd"; }
  void update(UpdateContext& ctx) const override {
    const double lr = lr_(ctx.step);
    for_each_param(ctx, [&](auto t, std::size_t i) {  // optax.trace, then the learning rate (sgd_kernel)
      using T = decltype(t);
      Array& g = *ctx.updates[i];
      sgd_kernel<T>(g.mutable_data<T>(), momentum_ != 0 ? ctx.slots[0][i]->mutable_data<T>() : nullptr, g.numel(),
                    static_cast<T>(momentum_), nesterov_, static_cast<T>(-lr));
    });
  }

 private:
  Schedule lr_;
  double momentum_;
  bool nesterov_;
};

class Adam final : public Stage {
 public:
  Adam(Schedule lr, double b1, double b2, double eps, double wd)
      : lr_(std::move(lr)), b1_(b1), b2_(b2), eps_(eps), wd_(wd) {}
  std::vector<std::string> slots() const override { return {"mu", "nu"}; }
  std::string name() const override { return wd_ != 0 ? "adamw" : "adam"; }
  void update(UpdateContext& ctx) const override {
    const double lr = lr_(ctx.step);
    const std::int64_t t = ctx.step + 1;
    const double c1 = 1.0 - power(b1_, t), c2 = 1.0 - power(b2_, t);
    for_each_param(ctx, [&](auto tag, std::size_t i) {
      using T = decltype(tag);
      Array& g = *ctx.updates[i];
      adam_kernel<T>(g.mutable_data<T>(), ctx.slots[0][i]->mutable_data<T>(), ctx.slots[1][i]->mutable_data<T>(),
                     wd_ != 0 ? ctx.params[i]->data<T>() : nullptr, g.numel(), static_cast<T>(b1_),
                     static_cast<T>(1 - b1_), static_cast<T>(b2_), static_cast<T>(1 - b2_), static_cast<T>(c1),
                     static_cast<T>(c2), static_cast<T>(eps_), static_cast<T>(wd_), static_cast<T>(-lr));
    });
  }

 private:
  Schedule lr_;
  double b1_, b2_, eps_, wd_;
};

class RmsProp final : public Stage {
 public:
  RmsProp(Schedule lr, double decay, double eps) : lr_(std::move(lr)), decay_(decay), eps_(eps) {}
  std::vector<std::string> slots() const override { return {"nu"}; }
  std::string name() const override { return "rmsprop"; }
  void update(UpdateContext& ctx) const override {
    const double lr = lr_(ctx.step);
    for_each_param(ctx, [&](auto tag, std::size_t i) {
      using T = decltype(tag);
      auto g = as_vec<T>(*ctx.updates[i]);
      auto nu = as_vec<T>(*ctx.slots[0][i]);
      nu = static_cast<T>(decay_) * nu + static_cast<T>(1 - decay_) * g.square();
      g = static_cast<T>(-lr) * g / (nu + static_cast<T>(eps_)).sqrt();
    });
  }

 private:
  Schedule lr_;
  double decay_, eps_;
};

class ClipByGlobalNorm final : public Stage {
 public:
  explicit ClipByGlobalNorm(double max_norm) : max_norm_(max_norm) {}
  std::string name() const override { return "clip_by_global_norm"; }
  void update(UpdateContext& ctx) const override {
    double total = 0;  // in parameter path order: a fixed summation order
    for_each_param(ctx, [&](auto tag, std::size_t i) {
      using T = decltype(tag);
      const T* g = ctx.updates[i]->template data<T>();
      for (std::int64_t k = 0; k < ctx.updates[i]->numel(); ++k) total += static_cast<double>(g[k]) * g[k];
    });
    const double norm = std::sqrt(total);
    if (!(norm > max_norm_)) return;
    const double factor = max_norm_ / norm;
    for_each_param(ctx, [&](auto tag, std::size_t i) {
      using T = decltype(tag);
      as_vec<T>(*ctx.updates[i]) *= static_cast<T>(factor);
    });
  }

 private:
  double max_norm_;
};

class AddDecayedWeights final : public Stage {
 public:
  explicit AddDecayedWeights(double wd) : wd_(wd) {}
  std::string name() const override { return "add_decayed_weights"; }
  void update(UpdateContext& ctx) const override {
    for_each_param(ctx, [&](auto tag, std::size_t i) {
      using T = decltype(tag);
      as_vec<T>(*ctx.updates[i]) += static_cast<T>(wd_) * as_vec<T>(*ctx.params[i]);
    });
  }

 private:
  double wd_;
};

class ScaleByLearningRate final : public Stage {
 public:
  explicit ScaleByLearningRate(Schedule lr) : lr_(std::move(lr)) {}
  std::string name() const override { return "scale_by_learning_rate"; }
  void update(UpdateContext& ctx) const override {
    const double lr = lr_(ctx.step);
    for_each_param(ctx, [&](auto tag, std::size_t i) {
      using T = decltype(tag);
      as_vec<T>(*ctx.updates[i]) *= static_cast<T>(-lr);
    });
  }

 private:
  Schedule lr_;
};

GradientTransformation single(std::shared_ptr<const Stage> stage) { return {{std::move(stage)}, false}; }

void check_positive(const char* who, const char* what, double v) {
  if (!(v > 0)) throw Error(std::string(who) + ": " + what + " must be > 0, got " + std::to_string(v));
}
void check_unit(const char* who, const char* what, double v) {
  if (!(v >= 0 && v < 1)) throw Error(std::string(who) + ": " + what + " must be in [0, 1), got " + std::to_string(v));
}
}  // namespace

GradientTransformation sgd(Schedule lr, double momentum, bool nesterov) {
  check_unit("sgd", "momentum", momentum);
  return single(std::make_shared<Sgd>(std::move(lr), momentum, nesterov));
}
GradientTransformation adam(Schedule lr, double b1, double b2, double eps) {
  check_unit("adam", "b1", b1);
  check_unit("adam", "b2", b2);
  return single(std::make_shared<Adam>(std::move(lr), b1, b2, eps, 0.0));
}
GradientTransformation adamw(Schedule lr, double b1, double b2, double eps, double wd) {
  check_unit("adamw", "b1", b1);
  check_unit("adamw", "b2", b2);
  return single(std::make_shared<Adam>(std::move(lr), b1, b2, eps, wd));
}
GradientTransformation rmsprop(Schedule lr, double decay, double eps) {
  check_unit("rmsprop", "decay", decay);
  return single(std::make_shared<RmsProp>(std::move(lr), decay, eps));
}
GradientTransformation clip_by_global_norm(double max_norm) {
  check_positive("clip_by_global_norm", "max_norm", max_norm);
  return single(std::make_shared<ClipByGlobalNorm>(max_norm));
}
GradientTransformation add_decayed_weights(double wd) { return single(std::make_shared<AddDecayedWeights>(wd)); }
GradientTransformation scale_by_learning_rate(Schedule lr) { return single(std::make_shared<ScaleByLearningRate>(std::move(lr))); }

GradientTransformation chain(std::vector<GradientTransformation> transforms) {
  GradientTransformation out;
  out.chained = true;
  for (auto& t : transforms)
    for (auto& s : t.stages) out.stages.push_back(s);
  return out;
}

}  // namespace optim

namespace {
std::vector<std::pair<Path, Variable*>> selected(Module& model, const Filter& wrt) {
  std::vector<std::pair<Path, Variable*>> out;
  for (auto& [path, var] : detail::cached_walk(model)->walk.variables)
    if (wrt(path, *var)) out.emplace_back(path, var);
  return out;
}
}  // namespace

Optimizer::Optimizer(Module& model, optim::GradientTransformation tx, Filter wrt)
    : step(Array::scalar<std::int64_t>(0)), tx_(std::move(tx)), has_transformation_(true), wrt_(std::move(wrt)) {
  const auto params = selected(model, wrt_);
  for (auto& [path, var] : params) {
    if (!dtype_is_floating(var->value.dtype()))
      throw Error("Optimizer: " + path.str() + " is " + var->value.shape_dtype().str() +
                  "; only floating-point variables can be optimized (select them with the wrt filter)");
    param_paths_.push_back(path);
  }
  for (std::size_t s = 0; s < tx_.stages.size(); ++s) {
    const std::vector<std::string> slots = tx_.stages[s]->slots();
    stage_slots_.push_back(slots.size());
    for (const std::string& slot : slots) {
      const Path prefix = tx_.chained ? Path{PathKey(s), PathKey(slot)} : Path{PathKey(slot)};
      std::vector<Path> column;
      for (auto& [path, var] : params) {
        column.push_back(prefix / path);
        opt_state.set(column.back(), OptState(Array::zeros(var->value.shape(), var->value.dtype())));
      }
      slot_paths_.push_back(std::move(column));
    }
  }
}

std::int64_t Optimizer::num_steps() const { return step.value.item<std::int64_t>(); }

void Optimizer::check_transformation() const {
  if (!has_transformation_)
    throw Error("Optimizer::update: this Optimizer was built by nnx::merge or nnx::clone, which carry only its "
                "declared fields (step, opt_state), not the gradient transformation; construct it with "
                "nnx::Optimizer(model, tx) and load the saved state with nnx::update(optimizer, state)");
}

void Optimizer::update(Module& model, State grads) {
  check_transformation();
  auto params = selected(model, wrt_);
  // Everything is matched by path. The common case (grads from value_and_grad for this model) is
  // checked in one lockstep pass; any difference gets the full report.
  bool fits = params.size() == grads.size() && params.size() == param_paths_.size();
  auto g = grads.begin();
  for (std::size_t i = 0; fits && i < params.size(); ++i, ++g)
    fits = g->first == params[i].first && params[i].first == param_paths_[i] &&
           g->second.value.shape() == params[i].second->value.shape() &&
           g->second.value.dtype() == params[i].second->value.dtype() && !g->second.value.is_abstract();
  if (!fits) {
    State expected;
    for (auto& [path, var] : params) expected.set(path, Variable(var->kind(), var->value));
    CompareOptions options;
    options.kinds = false;
    std::vector<Difference> diffs = compare_structure(expected, grads, options);
    for (const auto& [path, v] : grads)
      if (v.value.is_abstract()) diffs.push_back({path, Difference::What::abstract, "a concrete array", v.value.shape_dtype().str()});
    if (diffs.empty())  // the grads fit the model, but the model is not the one this optimizer was built for
      for (std::size_t i = 0; i < std::max(params.size(), param_paths_.size()); ++i)
        if (i >= params.size() || i >= param_paths_.size() || !(params[i].first == param_paths_[i]))
          diffs.push_back({i < params.size() ? params[i].first : param_paths_[i], Difference::What::unexpected, "",
                           "a parameter the optimizer state was not built for"});
    throw StructureError("Optimizer::update: the gradients do not match the model's parameters", std::move(diffs),
                         "pass the grads that nnx::value_and_grad returned for the model this optimizer was built "
                         "with (same wrt filter)");
  }
  std::vector<Array> updates;
  std::vector<Variable*> vars;
  updates.reserve(params.size());
  vars.reserve(params.size());
  for (auto& [path, v] : grads) updates.push_back(std::move(v.value));  // in place unless the caller still holds them
  for (auto& [path, var] : params) vars.push_back(var);
  apply_updates(updates, vars);
}

void Optimizer::apply(Module& model, const detail::CachedWalk& walk, const std::vector<std::size_t>& selected,
                      std::vector<Array>& grads) {
  check_transformation();
  if (walk.generation != walk_generation_ || selected != walk_selected_) {
    const auto& variables = walk.walk.variables;
    bool fits = selected.size() == param_paths_.size();
    for (std::size_t k = 0; fits && k < selected.size(); ++k) fits = variables[selected[k]].first == param_paths_[k];
    if (!fits) {  // not the model this optimizer was built for: the general route reports how
      State as_state;
      for (std::size_t k = 0; k < selected.size(); ++k)
        as_state.set(variables[selected[k]].first, Variable(variables[selected[k]].second->kind(), grads[k]));
      update(model, std::move(as_state));
      return;
    }
    params_.clear();
    for (std::size_t i : selected) params_.push_back(variables[i].second);
    walk_generation_ = walk.generation;
    walk_selected_ = selected;
  }
  apply_updates(grads, params_);
}

void Optimizer::apply_updates(std::vector<Array>& updates, const std::vector<Variable*>& params) {
  if (opt_state.structure_version() != slots_version_ || slot_values_.size() != slot_paths_.size()) {
    slot_values_.assign(slot_paths_.size(), {});
    for (std::size_t s = 0; s < slot_paths_.size(); ++s)
      for (const Path& p : slot_paths_[s]) {
        if (!opt_state.contains(p))
          throw Error("Optimizer::update: the optimizer state has no entry '" + p.str() +
                      "'; it does not belong to this model (restore it from a checkpoint of this model)");
        slot_values_[s].push_back(&opt_state.at(p).value);
      }
    slots_version_ = opt_state.structure_version();
  }
  optim::UpdateContext& ctx = context_;
  ctx.step = num_steps();
  ctx.updates.clear();
  ctx.params.clear();
  for (std::size_t i = 0; i < params.size(); ++i) {
    ctx.updates.push_back(&updates[i]);
    ctx.params.push_back(&params[i]->value);
  }
  for (std::size_t s = 0; s < slot_values_.size(); ++s)
    for (std::size_t i = 0; i < params.size(); ++i) {
      const Array& v = *slot_values_[s][i];
      if (!(v.shape() == params[i]->value.shape()) || v.dtype() != params[i]->value.dtype())
        throw Error("Optimizer::update: optimizer state " + slot_paths_[s][i].str() + " is " + v.shape_dtype().str() +
                    ", expected " + params[i]->value.shape_dtype().str());
    }
  std::size_t slot_index = 0;
  for (std::size_t stage = 0; stage < tx_.stages.size(); ++stage) {
    ctx.slots.resize(stage_slots_[stage]);
    for (std::size_t k = 0; k < stage_slots_[stage]; ++k, ++slot_index) {
      ctx.slots[k].assign(slot_values_[slot_index].begin(), slot_values_[slot_index].end());
    }
    tx_.stages[stage]->update(ctx);
  }
  for (std::size_t i = 0; i < params.size(); ++i) {
    Array& p = params[i]->value;
    detail::floating("Optimizer::update", p, [&](auto t) {
      using T = decltype(t);
      add_into<T>(p.mutable_data<T>(), static_cast<const Array&>(updates[i]).data<T>(), p.numel());
    });
  }
  step.value.mutable_data<std::int64_t>()[0] += 1;
}

}  // namespace nnx
