#include "nnx/graph.hpp"

#include <map>
#include <ostream>
#include <set>

#include "graph_walk.hpp"

namespace nnx {

namespace {
State state_of(const detail::GraphWalk& walk) {
  State::Map map;
  for (const auto& [path, var] : walk.variables) map.emplace_hint(map.end(), path, *var);
  return State(std::move(map));
}

// Builds a module from a GraphDef's nodes and the values of a State (already checked to fit).
// Visits the fresh object's declared fields and, as module.hpp's Visitor asks, shapes its
// containers, optionals and shared children from the nodes; every node must be used exactly once.
class ModuleBuilder final : public Visitor, public Builder {
 public:
  ModuleBuilder(const GraphDefBase& graphdef, const State& values) : graphdef_(graphdef), values_(values) {
    for (const GraphNode& n : graphdef.nodes()) nodes_.emplace(n.path, &n);
  }

  std::shared_ptr<Module> build() {
    const GraphNode& root = node(GraphNode::What::module);
    std::shared_ptr<Module> m = root.make();
    fill(*m, root);
    if (used_ != nodes_.size())
      throw Error("merge into " + graphdef_.type_name() + ": the GraphDef has " + std::to_string(nodes_.size() - used_) +
                  " nodes that the type's declared fields do not reach; was the GraphDef made by another "
                  "version of the type?");
    return m;
  }

  Builder* builder() override { return this; }

  void on_variable(const PathKey& key, Variable& v) override {
    Scope s(path_, key);
    const GraphNode& n = node(GraphNode::What::variable);
    // A field declared as a plain Variable (kind root when default-constructed) holds any kind.
    if (v.kind() != n.kind && v.kind() != Kind::root()) mismatch("a " + n.kind.name() + " variable", "a field of kind " + v.kind().name());
    v = values_.at(path_);
  }
  void on_module(const PathKey& key, Module& m) override {
    Scope s(path_, key);
    fill(m, node(GraphNode::What::module));
  }
  void on_shared(const PathKey& key, Module& m) override {
    Scope s(path_, key);
    const GraphNode& n = *nodes_.at(path_);
    if (n.what == GraphNode::What::module && fresh_.erase(&m)) fill(m, n);  // its first path: build its fields
  }
  void on_attribute(const PathKey& key, Attribute& a) override {
    Scope s(path_, key);
    a.assign(node(GraphNode::What::attribute).text);
  }
  void on_state(const PathKey& key, State& state) override {
    Scope s(path_, key);
    node(GraphNode::What::state);
    State::Map map;
    for (auto it = nodes_.upper_bound(path_); it != nodes_.end() && it->first.starts_with(path_); ++it) {
      ++used_;
      map.emplace_hint(map.end(), it->first.drop_front(path_.size()), values_.at(it->first));
    }
    state = State(std::move(map));
  }
  void begin_container(const PathKey& key, ContainerKind kind) override {
    path_.push_back(key);
    node(kind == ContainerKind::list ? GraphNode::What::list : GraphNode::What::dict);
  }
  void end_container() override { path_.pop_back(); }

  std::vector<PathKey> keys(const PathKey* key) override {
    const Path prefix = key ? path_ / *key : path_;
    std::vector<PathKey> out;
    for (auto it = nodes_.upper_bound(prefix); it != nodes_.end() && it->first.starts_with(prefix); ++it)
      if (it->first.size() == prefix.size() + 1) out.push_back(it->first.back());
    return out;
  }
  bool has(const PathKey& key) override { return nodes_.count(path_ / key) != 0; }
  std::shared_ptr<Module> shared(const PathKey& key) override {
    Scope s(path_, key);
    auto it = nodes_.find(path_);
    if (it == nodes_.end()) return nullptr;
    if (it->second->what == GraphNode::What::shared) {
      ++used_;
      return shared_at(it->second->target);
    }
    node(GraphNode::What::module);
    return shared_at(path_);
  }

 private:
  struct Scope {
    Scope(Path& p, const PathKey& k) : path(p) { path.push_back(k); }
    ~Scope() { path.pop_back(); }
    Path& path;
  };

  // The shared module first seen at `path`, made on first request: a field declared before the
  // one at `path` (NNX_FIELDS need not be sorted) may link to it before it is visited there.
  std::shared_ptr<Module> shared_at(const Path& path) {
    auto [it, inserted] = built_.try_emplace(path);
    if (inserted) {
      auto n = nodes_.find(path);
      if (n == nodes_.end() || n->second->what != GraphNode::What::module)
        mismatch("a link to a shared module at '" + path.str() + "' that it does not describe", "a shared_ptr field");
      it->second = n->second->make();
      fresh_.insert(it->second.get());
    }
    return it->second;
  }

  // The node at the current path, which must be a `what`; counts it as used.
  const GraphNode& node(GraphNode::What what) {
    auto it = nodes_.find(path_);
    if (it == nodes_.end() || it->second->what != what)
      mismatch("a field the GraphDef " + std::string(it == nodes_.end() ? "does not have" : "describes otherwise"),
               "a declared field of the type");
    ++used_;
    return *it->second;
  }

  void fill(Module& m, const GraphNode& n) {
    if (typeid(m) != *n.type) mismatch("a " + n.text, "a " + m.type_name());
    GraphAccess::set_training(m, n.training);
    m.visit(*this);
  }

  [[noreturn]] void mismatch(const std::string& expected, const std::string& found) const {
    throw Error("merge into " + graphdef_.type_name() + ": at '" + path_.str() + "' the GraphDef has " + expected +
                ", the default-constructed object has " + found +
                "; a module's default constructor and NNX_FIELDS must describe the same fields as the object "
                "the GraphDef was taken from");
  }

  const GraphDefBase& graphdef_;
  const State& values_;
  std::map<Path, const GraphNode*> nodes_;
  std::size_t used_ = 0;
  Path path_;
  std::map<Path, std::shared_ptr<Module>> built_;  // shared modules, by the path they were built at
  std::set<const Module*> fresh_;                  // built, fields not yet filled
};
}  // namespace

bool GraphNode::operator==(const GraphNode& o) const {
  if (!(path == o.path) || what != o.what || text != o.text) return false;
  switch (what) {
    case What::module: return *type == *o.type && training == o.training;
    case What::variable: return kind == o.kind && shape_dtype == o.shape_dtype;
    case What::shared: return target == o.target;
    default: return true;
  }
}

const std::string& GraphDefBase::type_name() const {
  static const std::string none = "<empty GraphDef>";
  return nodes_.empty() ? none : nodes_.front().text;
}

const std::type_info* GraphDefBase::type() const { return nodes_.empty() ? nullptr : nodes_.front().type; }

State GraphDefBase::abstract_state() const {
  State::Map map;
  for (const GraphNode& n : nodes_)
    if (n.what == GraphNode::What::variable)
      map.emplace_hint(map.end(), n.path, Variable(n.kind, Array::abstract(n.shape_dtype.shape, n.shape_dtype.dtype)));
  return State(std::move(map));
}

GraphDefBase GraphAccess::graphdef(Module& module) { return GraphDefBase(detail::walk_graph(module).nodes); }

std::vector<State> GraphAccess::split(Module& module, const std::vector<Filter>& filters, bool exhaustive,
                                      GraphDefBase* graphdef) {
  detail::GraphWalk walk = detail::walk_graph(module, graphdef != nullptr);
  if (graphdef) *graphdef = GraphDefBase(std::move(walk.nodes));
  State all = state_of(walk);
  if (exhaustive) return all.split(filters);
  // Already ends with Everything (nnx::state(model) or a user's Everything): nothing is left over.
  if (!filters.empty() && filters.back().is_everything()) return all.split(filters);
  std::vector<Filter> with_rest = filters;
  with_rest.push_back(Everything{});
  std::vector<State> states = all.split(with_rest);
  states.pop_back();
  return states;
}

std::shared_ptr<Module> GraphAccess::merge(const GraphDefBase& graphdef, const std::type_info& type,
                                           const std::vector<const State*>& states) {
  if (graphdef.empty())
    throw Error("merge: the GraphDef is empty (default-constructed); take it from nnx::split or nnx::graphdef");
  if (*graphdef.type() != type)
    throw Error("merge: the GraphDef describes a " + graphdef.type_name() + " (" + detail::demangle(*graphdef.type()) +
                "), not the requested type (" + detail::demangle(type) + "); merge with the GraphDef split from a module of "
                "the type you ask for");
  State all;
  if (states.size() == 1) {
    all = *states[0];
  } else {
    std::vector<State> given;
    for (const State* s : states) given.push_back(*s);
    all = State::merge(given);
  }
  std::vector<Difference> diffs = compare_structure(graphdef.abstract_state(), all);
  if (!diffs.empty())
    throw StructureError("merge into " + graphdef.type_name() + ": the States do not fit the GraphDef", std::move(diffs),
                         "pass every State that split returned for this module; for a checkpoint, restore with this "
                         "model's abstract state (eval_shape + split) as the target");
  return ModuleBuilder(graphdef, all).build();
}

void GraphAccess::set_training(Module& module, bool training) { module.training_ = training; }

void GraphAccess::update(Module& module, const std::vector<const State*>& states) {
  detail::GraphWalk walk = detail::walk_graph(module, false);
  State current = state_of(walk);
  std::vector<Difference> diffs;
  CompareOptions options;
  options.missing = false;  // update may write a subset
  for (const State* s : states) {
    for (auto& d : compare_structure(current, *s, options)) diffs.push_back(std::move(d));
    for (const auto& [path, v] : *s)
      if (v.value.is_abstract() && current.contains(path))
        diffs.push_back({path, Difference::What::abstract, "a concrete array", v.value.shape_dtype().str() + " (abstract)"});
  }
  if (!diffs.empty())
    throw StructureError("update of " + module.type_name() + ": the State does not fit the module", std::move(diffs),
                         "update with a State split from a module of this structure, or select the matching paths "
                         "with State::filter first");
  std::map<Path, Variable*> targets(walk.variables.begin(), walk.variables.end());
  for (const State* s : states)
    for (const auto& [path, v] : *s) {
      Variable* target = targets.at(path);
      target->value = v.value;
      target->metadata = v.metadata;
    }
}

std::ostream& operator<<(std::ostream& os, const GraphDefBase& graphdef) {
  os << "GraphDef";
  for (const GraphNode& n : graphdef.nodes()) {
    std::string indent(2 * n.path.size(), ' ');
    std::string key = n.path.empty() ? "" : n.path.back().str();
    switch (n.what) {
      case GraphNode::What::module:
        os << (n.path.empty() ? " " + n.text : "\n" + indent + key + ": " + n.text);
        if (!n.training) os << " (eval)";
        break;
      case GraphNode::What::list: os << "\n" << indent << key << ": list"; break;
      case GraphNode::What::dict: os << "\n" << indent << key << ": dict"; break;
      case GraphNode::What::state: os << "\n" << indent << key << ": State"; break;
      case GraphNode::What::variable:
        os << "\n" << indent << key << ": " << n.kind.name() << " " << n.shape_dtype.str();
        break;
      case GraphNode::What::attribute: os << "\n" << indent << key << " = " << n.text; break;
      case GraphNode::What::shared: os << "\n" << indent << key << ": shared with " << n.target.str(); break;
    }
  }
  return os << "\n";
}

}  // namespace nnx
