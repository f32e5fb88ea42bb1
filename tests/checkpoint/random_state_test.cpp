// Randomized round trips: a seeded generator builds module graphs with string and integer keys,
// nesting, every dtype x kind, 0-d and empty shapes, metadata and shared submodules, and drives
// split -> save -> restore(abstract target) -> merge, and the pure-dict round trip, on each.
#include <doctest/doctest.h>

#include <cstring>
#include <map>
#include <memory>
#include <nnx/checkpoint.hpp>
#include <nnx/nnx.hpp>
#include <set>
#include <vector>

#include "temp_dir.hpp"

namespace {

NNX_VARIABLE_KIND(TestKind, nnx::Param, "RandomStateTestKind");  // a user-defined kind travels too

// Any structure: leaves of any kind by string and integer keys, nested children, shared children.
struct Tree : nnx::Module {
  std::map<std::string, nnx::Variable> leaves;
  std::vector<nnx::Variable> items;
  std::vector<Tree> children;
  std::map<std::string, std::shared_ptr<Tree>> links;  // several may point to one Tree
  std::int64_t tag = 0;
  std::string label;
  NNX_FIELDS(leaves, items, children, links, tag, label)
};

// Threefry bits as a tiny deterministic generator (the project never uses std:: distributions).
class Random {
 public:
  explicit Random(std::uint64_t seed) : key_(nnx::key_from_seed(seed)) {}
  std::uint64_t bits() { return nnx::random_bits(key_, counter_++); }
  std::size_t below(std::size_t n) { return static_cast<std::size_t>(bits() % n); }

 private:
  nnx::Key key_;
  std::uint32_t counter_ = 0;
};

const nnx::DType kDtypes[] = {nnx::DType::float32, nnx::DType::float64, nnx::DType::int32, nnx::DType::int64,
                              nnx::DType::uint32};
nnx::Kind kind_of(std::size_t i) {
  const nnx::Kind kinds[] = {nnx::Param::static_kind(),  nnx::BatchStat::static_kind(), nnx::Cache::static_kind(),
                             nnx::Intermediate::static_kind(), nnx::RngCount::static_kind(), nnx::OptState::static_kind(),
                             TestKind::static_kind()};
  return kinds[i % std::size(kinds)];
}
const nnx::Shape kShapes[] = {{}, {0}, {1}, {3}, {2, 0}, {2, 3}, {1, 1, 2}};

class Generator {
 public:
  explicit Generator(std::uint64_t seed) : r_(seed) {}
  std::size_t kinds_seen = 0, dtypes_seen = 0;
  std::set<std::pair<std::size_t, std::size_t>> combos;  // (kind, dtype) pairs drawn

  nnx::Variable variable() {
    const std::size_t k = r_.below(7), d = r_.below(5);
    combos.insert({k, d});
    nnx::Array a = nnx::Array::empty(kShapes[r_.below(std::size(kShapes))], kDtypes[d]);
    auto* bytes = static_cast<unsigned char*>(a.mutable_raw_data());
    for (std::size_t i = 0; i < a.nbytes(); ++i) bytes[i] = static_cast<unsigned char>(r_.bits());
    if (a.dtype() == nnx::DType::float32)  // finite values: NaN payloads are not the point here
      for (std::int64_t i = 0; i < a.numel(); ++i) a.mutable_data<float>()[i] = static_cast<float>(r_.below(2001)) / 8.f - 125.f;
    if (a.dtype() == nnx::DType::float64)
      for (std::int64_t i = 0; i < a.numel(); ++i) a.mutable_data<double>()[i] = static_cast<double>(r_.below(2001)) / 16.0;
    nnx::Metadata meta;
    if (r_.below(3) == 0) meta["note"] = "m" + std::to_string(r_.below(100));
    return nnx::Variable(kind_of(k), std::move(a), std::move(meta));
  }

  Tree tree(int depth, std::vector<std::shared_ptr<Tree>>& pool) {
    Tree t;
    t.tag = static_cast<std::int64_t>(r_.bits() % 1000) - 500;
    t.label = r_.below(2) ? "" : "label with spaces / and = signs";
    for (std::size_t i = 0, n = r_.below(4); i < n; ++i) t.leaves["v" + std::to_string(r_.below(20))] = variable();
    for (std::size_t i = 0, n = r_.below(3); i < n; ++i) t.items.push_back(variable());
    if (depth > 0)
      for (std::size_t i = 0, n = r_.below(3); i < n; ++i) t.children.push_back(tree(depth - 1, pool));
    if (depth > 0 && r_.below(2) == 0) pool.push_back(std::make_shared<Tree>(tree(depth - 1, pool)));
    for (std::size_t i = 0, n = pool.empty() ? 0 : r_.below(3); i < n; ++i)
      t.links["s" + std::to_string(i)] = pool[r_.below(pool.size())];
    return t;
  }

 private:
  Random r_;
};

// The sharing pattern: for every shared_ptr field, the index of the first field holding the same object.
class SharingPattern final : public nnx::Visitor {
 public:
  std::vector<std::size_t> pattern;
  void on_variable(const nnx::PathKey&, nnx::Variable&) override {}
  void on_attribute(const nnx::PathKey&, nnx::Attribute&) override {}
  void on_state(const nnx::PathKey&, nnx::State&) override {}
  void begin_container(const nnx::PathKey&, nnx::ContainerKind) override {}
  void end_container() override {}
  void on_module(const nnx::PathKey&, nnx::Module& m) override { m.visit(*this); }
  void on_shared(const nnx::PathKey&, nnx::Module& m) override {
    auto [it, fresh] = first_.emplace(&m, pattern.size());
    pattern.push_back(it->second);
    if (fresh) m.visit(*this);
  }

 private:
  std::map<const nnx::Module*, std::size_t> first_;
};

std::vector<std::size_t> sharing(Tree& t) {
  SharingPattern p;
  t.visit(p);
  return p.pattern;
}

}  // namespace

TEST_CASE("random module graphs: split -> save -> restore -> merge and the pure-dict round trip are exact") {
  namespace ckpt = nnx::checkpoint;
  TempDir dir("nnx-random-state");
  ckpt::CheckpointManager manager(dir.string(), {.max_to_keep = 2});
  Generator gen(20261130);
  const int cases = 300;
  std::size_t variables = 0, shared_links = 0, empty_states = 0;
  for (int c = 0; c < cases; ++c) {
    std::vector<std::shared_ptr<Tree>> pool;
    Tree original = gen.tree(3, pool);
    auto [graphdef, state] = nnx::split(original);
    variables += state.size();
    empty_states += state.empty();
    const std::vector<std::size_t> pattern = sharing(original);
    for (std::size_t i = 0; i < pattern.size(); ++i) shared_links += pattern[i] != i;

    // In memory: merge of split is the same graph.
    Tree merged = nnx::merge(graphdef, state);
    REQUIRE(nnx::state_equal(nnx::state(merged), state));
    CHECK(nnx::graphdef(merged) == graphdef);
    CHECK(sharing(merged) == pattern);
    CHECK(merged.label == original.label);

    // Through a checkpoint, into an abstract target, then merged.
    manager.save(c, state);
    const nnx::State restored = manager.restore(c, state.as_abstract());
    REQUIRE(nnx::state_equal(restored, state));
    Tree back = nnx::merge(graphdef, restored);
    CHECK(nnx::state_equal(nnx::state(back), state));
    CHECK(sharing(back) == pattern);

    // Without a target: the pure dict, poured back into the abstract State.
    nnx::State target = state.as_abstract();
    target.replace_by_pure_dict(manager.restore_pure_dict(c));
    CHECK(nnx::state_equal(target, state));
  }
  // The interesting cases really happened.
  MESSAGE(cases << " graphs, " << variables << " variables, " << shared_links << " shared links, "
                << gen.combos.size() << " of 35 kind x dtype pairs, " << empty_states << " empty States");
  CHECK(gen.combos.size() == 35);
  CHECK(shared_links > 50);
  CHECK(variables > 10 * cases);
  CHECK(empty_states > 0);  // an empty State saves and restores too
}
