#include "graph_walk.hpp"

#include <algorithm>
#include <atomic>
#include <typeinfo>

#include "nnx/error.hpp"

namespace nnx::detail {

namespace {

struct Field {
  enum class Type { variable, module, shared, attribute, state, list, dict };
  Field(PathKey k, Type t, Variable* v = nullptr, Module* m = nullptr, State* s = nullptr, std::string txt = {})
      : key(std::move(k)), type(t), variable(v), module(m), state(s), text(std::move(txt)) {}
  PathKey key;
  Type type;
  Variable* variable;
  Module* module;
  State* state;
  std::string text;  // attribute value
  std::vector<Field> children;
};

// Records the fields of one module (containers included, child modules not entered).
class Collector final : public Visitor {
 public:
  // `attribute_text` = false: the hot walks (value_and_grad, the optimizer) skip formatting them.
  explicit Collector(bool attribute_text) : attribute_text_(attribute_text) {}
  std::vector<Field> fields;

  void on_variable(const PathKey& key, Variable& v) override { add({key, Field::Type::variable, &v}); }
  void on_module(const PathKey& key, Module& m) override { add({key, Field::Type::module, nullptr, &m}); }
  void on_shared(const PathKey& key, Module& m) override { add({key, Field::Type::shared, nullptr, &m}); }
  void on_attribute(const PathKey& key, Attribute& a) override {
    add({key, Field::Type::attribute, nullptr, nullptr, nullptr, attribute_text_ ? a.text() : std::string()});
  }
  void on_state(const PathKey& key, State& s) override { add({key, Field::Type::state, nullptr, nullptr, &s}); }
  void begin_container(const PathKey& key, ContainerKind kind) override {
    add({key, kind == ContainerKind::list ? Field::Type::list : Field::Type::dict});
    stack_.push_back(&stack_.back()->back().children);
  }
  void end_container() override { stack_.pop_back(); }

 private:
  void add(Field f) { stack_.back()->push_back(std::move(f)); }
  bool attribute_text_;
  std::vector<std::vector<Field>*> stack_{&fields};
};

void sort_fields(std::vector<Field>& fields, const Module& where) {
  std::stable_sort(fields.begin(), fields.end(), [](const Field& a, const Field& b) { return a.key < b.key; });
  for (std::size_t i = 1; i < fields.size(); ++i)
    if (fields[i].key == fields[i - 1].key)
      throw Error("module " + where.type_name() + ": field '" + fields[i].key.str() +
                  "' is listed twice; every field needs its own name in NNX_FIELDS");
  for (auto& f : fields) sort_fields(f.children, where);
}

std::vector<Field> collect(Module& m, bool attribute_text) {
  Collector c(attribute_text);
  m.visit(c);
  sort_fields(c.fields, m);
  return std::move(c.fields);
}

class Walker {
 public:
  explicit Walker(bool describe) : describe_(describe) {}
  GraphWalk result;

  void walk_root(Module& root) {
    seen_.emplace_back(&root, Path{});
    enter(root);
  }

 private:
  // `path_` is the path of the field being visited: one Path, pushed and popped, copied only
  // where a variable or node records it.
  void enter(Module& m) {
    if (describe_) {
      GraphNode& n = note(GraphNode::What::module);
      n.text = m.type_name();
      n.type = &typeid(m);
      n.make = m.factory();
      n.training = m.is_training();
    }
    result.modules.push_back(&m);
    for (Field& f : collect(m, describe_)) {
      path_.push_back(f.key);
      walk_field(f);
      path_.pop_back();
    }
  }

  GraphNode& note(GraphNode::What what) {
    GraphNode& n = result.nodes.emplace_back();
    n.path = path_;
    n.what = what;
    return n;
  }

  void variable(Variable& v) {
    if (describe_) {
      GraphNode& n = note(GraphNode::What::variable);
      n.kind = v.kind();
      n.shape_dtype = v.value.shape_dtype();
    }
    result.variables.emplace_back(path_, &v);
  }

  void walk_field(Field& f) {
    switch (f.type) {
      case Field::Type::variable:
        variable(*f.variable);
        return;
      case Field::Type::attribute:
        if (describe_) note(GraphNode::What::attribute).text = std::move(f.text);
        return;
      case Field::Type::state:
        if (describe_) note(GraphNode::What::state);
        for (auto& [path, var] : *f.state) {
          if (path.empty()) throw Error("a State field cannot hold a variable at the empty path");
          for (const PathKey& k : path) path_.push_back(k);
          variable(var);
          for (std::size_t i = 0; i < path.size(); ++i) path_.pop_back();
        }
        return;
      case Field::Type::list:
      case Field::Type::dict:
        if (describe_) note(f.type == Field::Type::list ? GraphNode::What::list : GraphNode::What::dict);
        for (Field& c : f.children) {
          path_.push_back(c.key);
          walk_field(c);
          path_.pop_back();
        }
        return;
      case Field::Type::shared: {
        // Only shared_ptr fields can reach a module twice; by-value children are unique.
        auto it = std::find_if(seen_.begin(), seen_.end(), [&](const auto& e) { return e.first == f.module; });
        if (it != seen_.end()) {
          if (describe_) note(GraphNode::What::shared).target = it->second;
          return;
        }
        seen_.emplace_back(f.module, path_);
        enter(*f.module);
        return;
      }
      case Field::Type::module:
        enter(*f.module);
        return;
    }
  }

  bool describe_;
  Path path_;
  std::vector<std::pair<const Module*, Path>> seen_;
};

}  // namespace

GraphWalk walk_graph(Module& root, bool describe) {
  Walker w(describe);
  w.walk_root(root);
  return std::move(w.result);
}

}  // namespace nnx::detail

namespace nnx::detail {

namespace {

// One thing the visit saw. `version` is a State's structure_version(), else 0.
struct Seen {
  enum class What : std::uint8_t { variable, module, shared, state, begin_list, begin_dict, end };
  What what;
  const void* address;
  const std::type_info* type;
  std::uint64_t version;
  PathKey key{std::int64_t{0}};
};

// Visits the graph as the Walker does (each shared module entered once) and compares what it sees
// with `seen`, overwriting it in place: no allocation once `seen` has its size.
class Fingerprint final : public Visitor {
 public:
  Fingerprint(std::vector<Seen>& seen, std::vector<const Module*>& entered) : seen_(seen), entered_(entered) {}
  bool same = true;

  void visit_root(Module& root) {
    entered_.clear();
    entered_.push_back(&root);
    note(Seen::What::module, PathKey(std::int64_t{0}), &root, &typeid(root));
    root.visit(*this);
    if (count_ != seen_.size()) same = false;
    seen_.resize(count_);
  }
  void on_variable(const PathKey& key, Variable& v) override { note(Seen::What::variable, key, &v); }
  void on_module(const PathKey& key, Module& m) override {
    note(Seen::What::module, key, &m, &typeid(m));
    m.visit(*this);
  }
  void on_shared(const PathKey& key, Module& m) override {
    note(Seen::What::shared, key, &m, &typeid(m));
    if (std::find(entered_.begin(), entered_.end(), &m) != entered_.end()) return;
    entered_.push_back(&m);
    m.visit(*this);
  }
  void on_attribute(const PathKey&, Attribute&) override {}
  void on_state(const PathKey& key, State& s) override { note(Seen::What::state, key, &s, nullptr, s.structure_version()); }
  void begin_container(const PathKey& key, ContainerKind kind) override {
    note(kind == ContainerKind::list ? Seen::What::begin_list : Seen::What::begin_dict, key, nullptr);
  }
  void end_container() override { note(Seen::What::end, PathKey(std::int64_t{0}), nullptr); }

 private:
  void note(Seen::What what, const PathKey& key, const void* address, const std::type_info* type = nullptr,
            std::uint64_t version = 0) {
    if (count_ < seen_.size()) {
      Seen& s = seen_[count_];
      if (same && !(s.what == what && s.address == address && s.type == type && s.version == version && s.key == key))
        same = false;
      if (!same) s = Seen{what, address, type, version, key};
    } else {
      same = false;
      seen_.push_back(Seen{what, address, type, version, key});
    }
    ++count_;
  }

  std::vector<Seen>& seen_;
  std::size_t count_ = 0;
  std::vector<const Module*>& entered_;  // shared modules entered so far
};

struct CacheEntry {
  Module* root = nullptr;
  std::vector<Seen> seen;
  std::vector<const Module*> entered;
  std::shared_ptr<const CachedWalk> walk;
};

std::atomic<std::uint64_t> g_generation{0};
}  // namespace

std::shared_ptr<const CachedWalk> cached_walk(Module& root) {
  static constexpr std::size_t kRoots = 4;
  static thread_local std::vector<CacheEntry> entries;  // most recently used first
  auto it = std::find_if(entries.begin(), entries.end(), [&](const CacheEntry& e) { return e.root == &root; });
  if (it == entries.end()) {
    if (entries.size() < kRoots) entries.emplace_back();
    it = entries.end() - 1;
    it->root = &root;
    it->seen.clear();
    it->walk.reset();
  }
  std::rotate(entries.begin(), it, it + 1);
  CacheEntry& e = entries.front();
  Fingerprint fingerprint(e.seen, e.entered);
  fingerprint.visit_root(root);
  if (!fingerprint.same || !e.walk) {
    e.walk.reset();  // if the walk throws, nothing stale is left behind
    auto fresh = std::make_shared<CachedWalk>();
    fresh->walk = walk_graph(root, false);
    fresh->fields = FieldLayout::of(fresh->walk);
    fresh->generation = g_generation.fetch_add(1, std::memory_order_relaxed) + 1;
    e.walk = std::move(fresh);
  }
  return e.walk;
}

}  // namespace nnx::detail
