// Optimizers against hand-computed optax updates, clipping, weight decay, chains, schedules,
// path-keyed optimizer state (save / restore, field order) and error messages.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nnx/models.hpp>

#include "fixtures.hpp"

using namespace framework_test;

namespace {

using nnx::Array;
using nnx::DType;
using nnx::Path;
using nnx::State;
using Vec = std::vector<double>;
namespace optim = nnx::optim;
namespace schedules = nnx::schedules;

Array f64(const Vec& v) { return Array::from_values<double>({static_cast<std::int64_t>(v.size())}, v); }

struct One : nnx::Module {
  nnx::Param w;
  One() = default;
  explicit One(const Vec& v) : w(f64(v)) {}
  NNX_FIELDS(w)
};

// Two modules with the same fields declared in opposite orders.
struct AB : nnx::Module {
  nnx::Param a, b;
  AB() : a(f64({1.0, -2.0, 0.5})), b(f64({0.25, 3.0, -1.0})) {}
  NNX_FIELDS(a, b)
};
struct BA : nnx::Module {
  nnx::Param b, a;
  BA() : b(f64({9.0, 9.0, 9.0})), a(f64({-9.0, -9.0, -9.0})) {}
  NNX_FIELDS(b, a)
};

State grads_of(std::map<std::string, Vec> g) {
  State s;
  for (auto& [name, v] : g) s.set(Path{name}, nnx::Param(f64(v)));
  return s;
}

void check_close(const Vec& got, const Vec& expected) {
  REQUIRE(got.size() == expected.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    CAPTURE(i);
    CHECK(got[i] == doctest::Approx(expected[i]).epsilon(1e-12));
  }
}


const Vec kP0 = {0.5, -1.0, 2.0};
const std::vector<Vec> kGrads = {{0.1, -0.2, 0.3}, {-0.4, 0.5, 0.05}, {0.2, 0.2, -0.6}};
// A learning rate that changes every step, so the step passed to the schedule is checked too.
double lr_at(std::int64_t step) { return 0.1 / (1.0 + static_cast<double>(step)); }

using Slots = std::map<std::string, Vec>;
// One textbook step: p and the slots in, p and the slots out; t counts from 1.
using RefStep = std::function<void(Vec& p, const Vec& g, double lr, int t, Slots& s)>;

Vec& slot(Slots& s, const std::string& name) {
  Vec& v = s[name];
  if (v.empty()) v.assign(3, 0.0);
  return v;
}

}  // namespace

TEST_CASE("optimizers match the optax formulas written out, for three steps") {
  const double b1 = 0.8, b2 = 0.95, eps = 0.1, wd = 0.5, momentum = 0.9, decay = 0.7;
  auto trace_step = [=](bool nesterov) {  // optax.trace: trace = g + m trace; nesterov: g + m trace
    return [=](Vec& p, const Vec& g, double lr, int, Slots& s) {
      Vec& tr = slot(s, "trace");
      for (int i = 0; i < 3; ++i) {
        tr[i] = g[i] + momentum * tr[i];
        p[i] -= lr * (nesterov ? g[i] + momentum * tr[i] : tr[i]);
      }
    };
  };
  auto adam_step = [=](double weight_decay) {
    return [=](Vec& p, const Vec& g, double lr, int t, Slots& s) {
      Vec &mu = slot(s, "mu"), &nu = slot(s, "nu");
      for (int i = 0; i < 3; ++i) {
        mu[i] = b1 * mu[i] + (1 - b1) * g[i];
        nu[i] = b2 * nu[i] + (1 - b2) * g[i] * g[i];
        const double mhat = mu[i] / (1 - std::pow(b1, t)), vhat = nu[i] / (1 - std::pow(b2, t));
        p[i] -= lr * (mhat / (std::sqrt(vhat) + eps) + weight_decay * p[i]);  // eps outside the sqrt
      }
    };
  };
  struct Case {
    std::string name;
    optim::GradientTransformation tx;
    RefStep ref;
  };
  const std::vector<Case> cases = {
      {"sgd", optim::sgd(lr_at), [](Vec& p, const Vec& g, double lr, int, Slots&) {
         for (int i = 0; i < 3; ++i) p[i] -= lr * g[i];
       }},
      {"sgd momentum", optim::sgd(lr_at, momentum), trace_step(false)},
      {"sgd nesterov", optim::sgd(lr_at, momentum, true), trace_step(true)},
      {"adam", optim::adam(lr_at, b1, b2, eps), adam_step(0.0)},
      {"adamw", optim::adamw(lr_at, b1, b2, eps, wd), adam_step(wd)},
      {"rmsprop", optim::rmsprop(lr_at, decay, eps),
       [=](Vec& p, const Vec& g, double lr, int, Slots& s) {
         Vec& nu = slot(s, "nu");
         for (int i = 0; i < 3; ++i) {
           nu[i] = decay * nu[i] + (1 - decay) * g[i] * g[i];
           p[i] -= lr * g[i] / std::sqrt(nu[i] + eps);  // eps inside the sqrt
         }
       }},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    One model(kP0);
    nnx::Optimizer opt(model, c.tx);
    Vec p = kP0;
    Slots slots;
    for (int t = 0; t < 3; ++t) {
      CHECK(opt.num_steps() == t);
      const Vec& g = kGrads[static_cast<std::size_t>(t)];
      const State grads = grads_of({{"w", g}});
      opt.update(model, grads);  // an lvalue: the update must not write into the caller's grads
      CHECK(nnx::array_equal(grads.at("w").value, f64(g)));
      c.ref(p, g, lr_at(t), t + 1, slots);
      CAPTURE(t);
      check_close(values(model.w.value), p);
    }
    CHECK(opt.num_steps() == 3);
    // The state holds exactly the slots of the formulas, at <slot>/w, with their values.
    CHECK(opt.opt_state.size() == slots.size());
    for (const auto& [name, expected] : slots) {
      CAPTURE(name);
      REQUIRE(opt.opt_state.contains(Path{name, "w"}));
      check_close(values(opt.opt_state.at(Path{name, "w"}).value), expected);
    }
  }
}

TEST_CASE("clip_by_global_norm scales by max_norm / norm over all parameters together, only above max_norm") {
  // |a| = 3, |b| = 4: the global norm is 5 (per-parameter clipping would give other numbers).
  const Vec ga = {1.0, 2.0, 2.0}, gb = {0.0, 4.0, 0.0};
  struct Case {
    double max_norm, factor;
  };
  for (const Case c : {Case{2.5, 0.5}, Case{1.0, 0.2}, Case{5.0, 1.0}, Case{7.0, 1.0}}) {
    CAPTURE(c.max_norm);
    AB model;
    const Vec a0 = values(model.a.value), b0 = values(model.b.value);
    nnx::Optimizer opt(model, optim::chain(optim::clip_by_global_norm(c.max_norm), optim::sgd(1.0)));
    CHECK(opt.opt_state.empty());  // both stages are stateless
    opt.update(model, grads_of({{"a", ga}, {"b", gb}}));
    Vec ea = a0, eb = b0;
    for (int i = 0; i < 3; ++i) {
      ea[i] -= c.factor * ga[i];
      eb[i] -= c.factor * gb[i];
    }
    check_close(values(model.a.value), ea);
    check_close(values(model.b.value), eb);
  }
}

TEST_CASE("add_decayed_weights adds wd * param to the update, before the learning rate scales it") {
  One model(kP0);
  nnx::Optimizer opt(model, optim::chain(optim::add_decayed_weights(0.5), optim::scale_by_learning_rate(lr_at)));
  Vec p = kP0;
  for (int t = 0; t < 3; ++t) {
    const Vec& g = kGrads[static_cast<std::size_t>(t)];
    opt.update(model, grads_of({{"w", g}}));
    for (int i = 0; i < 3; ++i) p[i] -= lr_at(t) * (g[i] + 0.5 * p[i]);
    check_close(values(model.w.value), p);
  }
}

TEST_CASE("a chain keeps each stage's state under the stage index, nested chains flatten") {
  One model(kP0);
  nnx::Optimizer opt(model, optim::chain(optim::sgd(0.1, 0.9), optim::add_decayed_weights(0.1), optim::adam(0.01)));
  CHECK(paths_of(nnx::state(opt)) ==
        std::vector<std::string>{"opt_state/0/trace/w", "opt_state/2/mu/w", "opt_state/2/nu/w", "step"});
  CHECK(opt.opt_state.contains(Path{0, "trace", "w"}));  // integer stage keys
  CHECK_FALSE(opt.opt_state.contains(Path{"0", "trace", "w"}));

  nnx::Optimizer nested(model, optim::chain(optim::chain(optim::clip_by_global_norm(1.0), optim::sgd(0.1, 0.5)),
                                            optim::adam(0.01)));
  CHECK(paths_of(nested.opt_state) == std::vector<std::string>{"1/trace/w", "2/mu/w", "2/nu/w"});

  // A chained adam reaches the same numbers as adam alone, its state under 1/.
  One lone(kP0), chained(kP0);
  nnx::Optimizer o1(lone, optim::adam(lr_at, 0.8, 0.95, 0.1));
  nnx::Optimizer o2(chained, optim::chain(optim::clip_by_global_norm(100.0), optim::adam(lr_at, 0.8, 0.95, 0.1)));
  for (const Vec& g : kGrads) {
    o1.update(lone, grads_of({{"w", g}}));
    o2.update(chained, grads_of({{"w", g}}));
  }
  CHECK(nnx::array_equal(lone.w.value, chained.w.value));
  CHECK(nnx::array_equal(o1.opt_state.at("mu/w").value, o2.opt_state.at("1/mu/w").value));
}

TEST_CASE("schedules follow their formulas") {
  const double pi = 3.14159265358979323846;
  auto cosine = [&](double frac) { return 0.5 * (1 + std::cos(pi * frac)); };
  struct Case {
    std::string name;
    nnx::Schedule schedule;
    std::int64_t step;
    double expected;
  };
  const auto lin = schedules::linear(1.0, 0.0, 10, 5);
  const auto cosd = schedules::cosine_decay(2.0, 100, 0.1);
  const auto warm = schedules::warmup_cosine_decay(0.0, 1.0, 10, 110, 0.1);
  const std::vector<Case> cases = {
      {"constant", schedules::constant(0.3), 0, 0.3},
      {"constant", schedules::constant(0.3), 12345, 0.3},
      {"linear", lin, 0, 1.0},  // flat before `begin`
      {"linear", lin, 5, 1.0},
      {"linear", lin, 8, 0.7},
      {"linear", lin, 10, 0.5},
      {"linear", lin, 15, 0.0},
      {"linear", lin, 1000, 0.0},  // flat after
      {"linear up", schedules::linear(0.0, 2.0, 4), 3, 1.5},
      {"cosine_decay", cosd, 0, 2.0},
      {"cosine_decay", cosd, 25, 2.0 * (0.9 * cosine(0.25) + 0.1)},
      {"cosine_decay", cosd, 50, 2.0 * (0.9 * 0.5 + 0.1)},
      {"cosine_decay", cosd, 100, 0.2},
      {"cosine_decay", cosd, 500, 0.2},
      {"warmup_cosine_decay", warm, 0, 0.0},
      {"warmup_cosine_decay", warm, 5, 0.5},
      {"warmup_cosine_decay", warm, 10, 1.0},
      {"warmup_cosine_decay", warm, 35, 0.1 + 0.9 * cosine(0.25)},
      {"warmup_cosine_decay", warm, 60, 0.1 + 0.9 * 0.5},
      {"warmup_cosine_decay", warm, 110, 0.1},
      {"warmup_cosine_decay", warm, 1000, 0.1},
      {"warmup 0", schedules::warmup_cosine_decay(0.0, 1.0, 0, 10), 0, 1.0},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    CAPTURE(c.step);
    CHECK(c.schedule(c.step) == doctest::Approx(c.expected).epsilon(1e-12));
  }
}

TEST_CASE("Optimizer state on an MLP: step and opt_state/<slot>/<param path>, integer keys kept") {
  nnx::Rngs rngs(0);
  nnx::models::MLP model({.in = 3, .hidden = {5}, .out = 2, .batch_norm = true}, rngs);
  nnx::Optimizer opt(model, optim::adam(1e-2));
  const State s = nnx::state(opt);
  std::vector<std::string> expected;
  for (const char* slot : {"mu", "nu"})
    for (const char* p : {"layers/0/bias", "layers/0/kernel", "layers/1/bias", "layers/1/kernel", "norms/0/bias",
                          "norms/0/scale"})
      expected.push_back(std::string("opt_state/") + slot + "/" + p);
  expected.push_back("step");
  CHECK(paths_of(s) == expected);  // no slot for the BatchStats norms/0/mean, norms/0/var
  REQUIRE(s.contains(Path{"opt_state", "mu", "layers", 0, "kernel"}));
  CHECK_FALSE(s.contains(Path{"opt_state", "mu", "layers", "0", "kernel"}));
  for (const auto& [path, var] : s) {
    CAPTURE(path.str());
    CHECK(var.kind() == nnx::OptState::static_kind());
    if (path.str() == "step") continue;
    const Array param = nnx::state(model).at(path.drop_front(2)).value;  // a copy: the State is a temporary
    CHECK(var.value.shape_dtype() == param.shape_dtype());
    CHECK(nnx::array_equal(var.value, Array::zeros(param.shape(), param.dtype())));
  }

  const Array x = Array::from_values<float>({4, 3}, {1, 0, -1, 0.5f, 2, 0, -1, -1, 1, 0, 0.25f, 3});
  const Array y = Array::from_values<std::int32_t>({4}, {0, 1, 1, 0});
  for (int i = 1; i <= 3; ++i) {
    nnx::train_step(model, opt, [&](auto& m) { return nnx::softmax_cross_entropy(m(x), y); });
    CHECK(opt.num_steps() == i);
    CHECK(nnx::state(opt).at("step").value.item<std::int64_t>() == i);
  }
  CHECK_FALSE(nnx::array_equal(opt.opt_state.at("mu/layers/0/kernel").value, Array::zeros({3, 5}, DType::float32)));
}

namespace {
nnx::models::MLP small_mlp(std::uint64_t seed) {
  nnx::Rngs rngs({{"params", seed}, {"dropout", seed + 1}});
  return nnx::models::MLP({.in = 3, .hidden = {8, 8}, .out = 2, .dropout = 0.1, .batch_norm = true}, rngs);
}
optim::GradientTransformation schedule_tx() {
  return optim::chain(optim::clip_by_global_norm(1.0), optim::adamw(schedules::warmup_cosine_decay(0.0, 0.05, 3, 20)));
}
}  // namespace

TEST_CASE("optimizer state saved by path and restored into a fresh Optimizer continues bitwise") {
  const Array x = Array::from_values<float>({6, 3}, {1, 0, -1, 0.5f, 2, 0, -1, -1, 1, 0, 0.25f, 3, 2, 2, -2, 0, 1, 1});
  const Array y = Array::from_values<std::int32_t>({6}, {0, 1, 1, 0, 1, 0});
  auto loss = [&](nnx::models::MLP& m) { return nnx::softmax_cross_entropy(m(x), y); };

  nnx::models::MLP a = small_mlp(0);
  nnx::Optimizer oa(a, schedule_tx());
  for (int i = 0; i < 5; ++i) nnx::train_step(a, oa, loss);
  const State saved_opt = nnx::state(oa), saved_model = nnx::state(a);

  nnx::models::MLP b = small_mlp(7);  // other values, then restored
  nnx::update(b, saved_model);
  nnx::Optimizer ob(b, schedule_tx());
  nnx::update(ob, saved_opt);
  CHECK(ob.num_steps() == 5);
  CHECK(nnx::state_equal(nnx::state(ob), saved_opt));

  nnx::models::MLP c = small_mlp(7);  // control: the model restored, the optimizer state not
  nnx::update(c, saved_model);
  nnx::Optimizer oc(c, schedule_tx());

  for (int i = 0; i < 5; ++i) {
    const double la = nnx::train_step(a, oa, loss).item<float>();
    const double lb = nnx::train_step(b, ob, loss).item<float>();
    nnx::train_step(c, oc, loss);
    CHECK(la == lb);
  }
  CHECK(nnx::state_equal(nnx::state(a), nnx::state(b)));
  CHECK(nnx::state_equal(nnx::state(oa), nnx::state(ob)));
  CHECK_FALSE(nnx::state_equal(nnx::state(a, nnx::Param{}), nnx::state(c, nnx::Param{})));
}

TEST_CASE("optimizer state restores by path into a module that declares its fields in another order") {
  auto grads_at = [](int t) {
    const double s = 1.0 + t;
    return grads_of({{"a", {0.3 * s, -0.1, 0.7 / s}}, {"b", {-0.5, 0.2 * s, 0.05}}});
  };
  AB x;
  nnx::Optimizer ox(x, optim::adam(0.1));
  for (int t = 0; t < 5; ++t) ox.update(x, grads_at(t));
  const State saved = nnx::state(ox);
  CHECK(saved.contains(Path{"opt_state", "mu", "a"}));

  BA y;
  nnx::update(y, nnx::state(x));
  nnx::Optimizer oy(y, optim::adam(0.1));
  nnx::update(oy, saved);
  for (int t = 5; t < 10; ++t) {
    ox.update(x, grads_at(t));
    oy.update(y, grads_at(t));
  }
  CHECK(nnx::array_equal(x.a.value, y.a.value));
  CHECK(nnx::array_equal(x.b.value, y.b.value));
  CHECK(nnx::state_equal(nnx::state(ox), nnx::state(oy)));
  CHECK_FALSE(nnx::array_equal(x.a.value, x.b.value));
}

TEST_CASE("update with grads that do not fit the parameters names each path and changes nothing") {
  nnx::models::MLP model = small_mlp(0);
  nnx::Optimizer opt(model, optim::adam(0.01));
  const Array x = Array::ones({2, 3}, DType::float32);
  const State good = nnx::grad(model, [&](auto& m) { return nnx::mean(nnx::square(m(x))); });
  const State before = nnx::state(model);

  struct Case {
    std::string name;
    std::function<void(State&)> edit;
    nnx::Difference::What what;
    std::string path, text;
  };
  const std::vector<Case> cases = {
      {"wrong shape", [](State& g) { g.at("layers/1/kernel").value = Array::zeros({4, 8}, DType::float32); },
       nnx::Difference::What::shape, "layers/1/kernel", "layers/1/kernel: expected float32[8,8], got float32[4,8]"},
      {"wrong dtype", [](State& g) { g.at("layers/2/bias").value = Array::zeros({2}, DType::float64); },
       nnx::Difference::What::dtype, "layers/2/bias", "expected float32[2], got float64[2]"},
      {"missing", [](State& g) { g.erase(Path{"layers", 0, "bias"}); }, nnx::Difference::What::missing,
       "layers/0/bias", "layers/0/bias: missing"},
      {"unexpected", [](State& g) { g.set(Path{"extra"}, nnx::Param(Array::zeros({1}, DType::float32))); },
       nnx::Difference::What::unexpected, "extra", "extra: unexpected"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    State g = good;
    c.edit(g);
    try {
      opt.update(model, g);
      FAIL("no exception");
    } catch (const nnx::StructureError& e) {
      REQUIRE(e.differences().size() == 1);
      CHECK(e.differences()[0].what == c.what);
      CHECK(e.differences()[0].path.str() == c.path);
      CHECK(has(e.what(), c.text));
    }
    CHECK(opt.num_steps() == 0);
    CHECK(nnx::state_equal(nnx::state(model), before));
  }
  // A model the optimizer was not built for.
  nnx::Rngs rngs(3);
  nnx::models::MLP other({.in = 3, .hidden = {8}, .out = 2}, rngs);
  const State other_grads = nnx::grad(other, [&](auto& m) { return nnx::mean(nnx::square(m(x))); });
  const std::string msg = error_of([&] { opt.update(other, other_grads); });
  CHECK(has(msg, "not built for"));
  CHECK(opt.num_steps() == 0);
}

TEST_CASE("bad hyperparameters are errors naming the parameter and the value") {
  struct Case {
    std::string name;
    std::function<void()> make;
    std::vector<std::string> parts;
  };
  const std::vector<Case> cases = {
      {"adam b1", [] { optim::adam(1e-3, 1.5); }, {"adam", "b1", "1.5"}},
      {"adam b2", [] { optim::adam(1e-3, 0.9, 1.0); }, {"adam", "b2", "[0, 1)"}},
      {"adamw b1", [] { optim::adamw(1e-3, -0.1); }, {"adamw", "b1", "-0.1"}},
      {"sgd momentum", [] { optim::sgd(0.1, -1.0); }, {"sgd", "momentum", "-1"}},
      {"rmsprop decay", [] { optim::rmsprop(0.1, 1.0); }, {"rmsprop", "decay"}},
      {"clip 0", [] { optim::clip_by_global_norm(0.0); }, {"clip_by_global_norm", "max_norm", "> 0"}},
      {"clip -1", [] { optim::clip_by_global_norm(-1.0); }, {"max_norm", "-1"}},
      {"linear", [] { schedules::linear(1, 0, 0); }, {"linear", "transition_steps"}},
      {"cosine", [] { schedules::cosine_decay(1, 0); }, {"cosine_decay", "decay_steps"}},
      {"warmup", [] { schedules::warmup_cosine_decay(0, 1, 10, 5); }, {"warmup_steps = 10", "decay_steps = 5"}},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    const std::string msg = error_of(c.make);
    for (const auto& part : c.parts) {
      CAPTURE(part);
      CHECK(has(msg, part));
    }
  }
}

struct FloatVector : nnx::Module {
  nnx::Param w;
  FloatVector() = default;
  explicit FloatVector(Array a) : w(std::move(a)) {}
  NNX_FIELDS(w)
};

// The hot update loops (one pass per parameter, compiled for several instruction sets) must be
// bitwise the formulas evaluated in float in their documented order — on 1,000 elements, so the
// vector paths and their tails both run.
TEST_CASE("float32 updates are bitwise the optax formulas in float, in order (sgd, momentum, nesterov, adam, adamw)") {
  constexpr int n = 1003;
  const double lr = 0.05, momentum = 0.9, b1 = 0.8, b2 = 0.95, eps = 1e-3, wd = 0.25;
  struct Case {
    const char* name;
    optim::GradientTransformation tx;
  };
  const Case cases[] = {{"sgd", optim::sgd(lr)},
                        {"sgd momentum", optim::sgd(lr, momentum)},
                        {"sgd nesterov", optim::sgd(lr, momentum, true)},
                        {"adam", optim::adam(lr, b1, b2, eps)},
                        {"adamw", optim::adamw(lr, b1, b2, eps, wd)}};
  for (const Case& c : cases) {
    const std::string name = c.name;
    CAPTURE(name);
    std::vector<float> p(n), trace(n, 0.0f), mu(n, 0.0f), nu(n, 0.0f);
    for (int i = 0; i < n; ++i) p[static_cast<std::size_t>(i)] = std::ldexp(static_cast<float>(i % 97) - 48.0f, -(i % 7));
    FloatVector model(Array::from_values<float>({n}, p));
    nnx::Optimizer opt(model, c.tx);
    for (int t = 1; t <= 3; ++t) {
      std::vector<float> g(n);
      for (int i = 0; i < n; ++i) g[static_cast<std::size_t>(i)] = std::ldexp(static_cast<float>((i * 31 + t * 7) % 101) - 50.0f, -(i % 5) - t);
      State grads;
      grads.set(Path{"w"}, nnx::Param(Array::from_values<float>({n}, g)));
      opt.update(model, std::move(grads));
      auto power = [](double base, int e) {  // as the library: repeated squaring, exact IEEE steps
        double r = 1.0;
        for (; e > 0; e >>= 1, base *= base)
          if (e & 1) r *= base;
        return r;
      };
      const double c1 = 1.0 - power(b1, t), c2 = 1.0 - power(b2, t);
      for (std::size_t i = 0; i < static_cast<std::size_t>(n); ++i) {
        float u = g[i];
        if (name.rfind("sgd ", 0) == 0) {
          trace[i] = u + static_cast<float>(momentum) * trace[i];
          u = name == "sgd nesterov" ? u + static_cast<float>(momentum) * trace[i] : trace[i];
        } else if (name != "sgd") {
          mu[i] = static_cast<float>(b1) * mu[i] + static_cast<float>(1 - b1) * u;
          nu[i] = static_cast<float>(b2) * nu[i] + static_cast<float>(1 - b2) * (u * u);
          u = (mu[i] / static_cast<float>(c1)) / (std::sqrt(nu[i] / static_cast<float>(c2)) + static_cast<float>(eps));
          if (name == "adamw") u = u + static_cast<float>(wd) * p[i];
        }
        p[i] = p[i] + u * static_cast<float>(-lr);
      }
      const float* got = model.w.value.data<float>();
      int differ = 0;
      for (std::size_t i = 0; i < static_cast<std::size_t>(n); ++i) differ += std::memcmp(&got[i], &p[i], sizeof(float)) != 0;
      CAPTURE(t);
      CHECK(differ == 0);
    }
  }
}
