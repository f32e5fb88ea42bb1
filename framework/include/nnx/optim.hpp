// nnx/optim.hpp — optax-style gradient transformations and the nnx Optimizer.
//
//   nnx::Optimizer opt(model, nnx::optim::adam(1e-3));                        // wrt Param
//   auto tx = nnx::optim::chain(nnx::optim::clip_by_global_norm(1.0),
//                               nnx::optim::adamw(nnx::schedules::warmup_cosine_decay(0, 1e-3, 100, 5000)));
//   nnx::Optimizer opt2(model, tx);
//   auto [loss, grads] = nnx::value_and_grad(model, loss_fn);
//   opt.update(model, grads);                                    // params updated, opt.step += 1
//
// Optimizer state is ordinary State keyed by parameter path — opt_state/mu/layers/0/kernel,
// opt_state/nu/layers/0/kernel, step — never by position or pointer, so it is saved and restored
// by path (nnx::state(opt), nnx::update(opt, restored)) even into a model whose fields are declared
// in another order. In a chain, each stage's state sits under its index: opt_state/1/mu/....
// Each stage updates every parameter tensor with vectorised Eigen kernels; powers such as b1^t
// use exact repeated multiplication, so updates are bitwise reproducible.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "nnx/filter.hpp"
#include "nnx/module.hpp"
#include "nnx/state.hpp"

namespace nnx {

namespace detail {
class GradScope;
struct CachedWalk;
}  // namespace detail

// A learning rate as a function of the step (the number of updates applied before this one).
using Schedule = std::function<double(std::int64_t step)>;

namespace schedules {
Schedule constant(double value);
// From `init` to `end` linearly over `transition_steps`, starting after `begin` steps; flat after.
Schedule linear(double init, double end, std::int64_t transition_steps, std::int64_t begin = 0);
// init * ((1 - alpha) * (1 + cos(pi * min(step, decay_steps) / decay_steps)) / 2 + alpha)
Schedule cosine_decay(double init, std::int64_t decay_steps, double alpha = 0.0);
// Linear from init to peak over warmup_steps, then cosine from peak to end until decay_steps
// (decay_steps counts from 0 and includes the warmup, as in optax).
Schedule warmup_cosine_decay(double init, double peak, std::int64_t warmup_steps, std::int64_t decay_steps,
                             double end = 0.0);
}  // namespace schedules

namespace optim {

// What a stage sees during one update: per parameter (in path order) its update (the gradient
// on entry to the first stage, modified in place), its current value, and its state slots.
struct UpdateContext {
  std::vector<Array*> updates;
  std::vector<const Array*> params;
  std::vector<std::vector<Array*>> slots;  // slots[slot][param]
  std::int64_t step = 0;
};

// One stage of a gradient transformation. Stateless stages declare no slots.
class Stage {
 public:
  virtual ~Stage() = default;
  // Names of the per-parameter state this stage keeps ("mu", "nu", "trace"); each starts at zero.
  virtual std::vector<std::string> slots() const { return {}; }
  virtual void update(UpdateContext& ctx) const = 0;
  virtual std::string name() const = 0;
};

// A sequence of stages; a single stage keeps its state unprefixed, a chain under stage indices.
struct GradientTransformation {
  std::vector<std::shared_ptr<const Stage>> stages;
  bool chained = false;
};

GradientTransformation sgd(Schedule learning_rate, double momentum = 0.0, bool nesterov = false);
GradientTransformation adam(Schedule learning_rate, double b1 = 0.9, double b2 = 0.999, double eps = 1e-8);
GradientTransformation adamw(Schedule learning_rate, double b1 = 0.9, double b2 = 0.999, double eps = 1e-8,
                             double weight_decay = 1e-4);
// optax.rmsprop: nu = decay nu + (1 - decay) g^2; update = -lr g / sqrt(nu + eps).
GradientTransformation rmsprop(Schedule learning_rate, double decay = 0.9, double eps = 1e-8);
// Scales all updates by max_norm / global_norm when the global L2 norm exceeds max_norm.
GradientTransformation clip_by_global_norm(double max_norm);
// updates += weight_decay * params.
GradientTransformation add_decayed_weights(double weight_decay);
// updates *= -learning_rate(step).
GradientTransformation scale_by_learning_rate(Schedule learning_rate);
GradientTransformation chain(std::vector<GradientTransformation> transforms);
template <class... T> GradientTransformation chain(T... transforms) { return chain(std::vector<GradientTransformation>{transforms...}); }

// Plain numbers convert to constant schedules: nnx::optim::adam(1e-3).
inline GradientTransformation sgd(double lr, double momentum = 0.0, bool nesterov = false) {
  return sgd(schedules::constant(lr), momentum, nesterov);
}
inline GradientTransformation adam(double lr, double b1 = 0.9, double b2 = 0.999, double eps = 1e-8) {
  return adam(schedules::constant(lr), b1, b2, eps);
}
inline GradientTransformation adamw(double lr, double b1 = 0.9, double b2 = 0.999, double eps = 1e-8, double wd = 1e-4) {
  return adamw(schedules::constant(lr), b1, b2, eps, wd);
}
inline GradientTransformation rmsprop(double lr, double decay = 0.9, double eps = 1e-8) {
  return rmsprop(schedules::constant(lr), decay, eps);
}

}  // namespace optim

// nnx.Optimizer: holds the transformation, its state and the step counter, and applies updates.
// Only step and opt_state are declared fields: an Optimizer built by nnx::merge or nnx::clone has
// no transformation and refuses update(); construct one with the model and the transformation,
// then nnx::update(optimizer, restored_state).
class Optimizer : public Module {
 public:
  Optimizer(Module& model, optim::GradientTransformation tx, Filter wrt = Param{});

  // Applies one update: model's selected variables += transformed grads; step += 1. `grads` must
  // have exactly the paths and shapes of the selected variables (value_and_grad gives that).
  // Pass the grads as an rvalue (std::move) to let the update reuse their buffers.
  void update(Module& model, State grads);
  std::int64_t num_steps() const;  // step's value
  const Filter& wrt() const { return wrt_; }  // the variables it updates (train_step differentiates these)

  OptState step;    // int64 scalar: updates applied so far
  State opt_state;  // per-parameter state, keyed <stage>/<slot>/<parameter path>

  std::string type_name() const override { return "Optimizer"; }
  NNX_FIELDS(step, opt_state)

 private:
  friend struct Access;
  friend class detail::GradScope;
  Optimizer() = default;  // for merge: no transformation

  // train_step's route (GradScope::finish_into): `grads[k]` is the gradient of the walk's variable
  // selected[k], selected by wrt(). Checked against param_paths_ once per walk.
  void apply(Module& model, const detail::CachedWalk& walk, const std::vector<std::size_t>& selected,
             std::vector<Array>& grads);
  // Runs the stages and adds the updates to `params`; step += 1.
  void apply_updates(std::vector<Array>& updates, const std::vector<Variable*>& params);
  void check_transformation() const;

  optim::GradientTransformation tx_;
  bool has_transformation_ = false;
  Filter wrt_ = Param{};
  std::vector<Path> param_paths_;              // the parameters the state was built for
  std::vector<std::vector<Path>> slot_paths_;  // per stage slot, per parameter: <stage>/<slot>/<path>
  std::vector<std::size_t> stage_slots_;       // how many slots each stage has

  // Caches of the hot path; each is rebuilt when what it was taken from changes.
  std::uint64_t walk_generation_ = 0;          // the walk params_ was taken from (0: none)
  std::vector<std::size_t> walk_selected_;     // and the selection
  std::vector<Variable*> params_;              // the model's variables, in param_paths_ order
  std::uint64_t slots_version_ = 0;            // opt_state.structure_version() slot_values_ was taken at
  std::vector<std::vector<Array*>> slot_values_;  // per stage slot, per parameter
  optim::UpdateContext context_;               // reused from step to step
};

}  // namespace nnx
