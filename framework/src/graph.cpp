#include "nnx/graph.hpp"

#include <ostream>
#include <map>

#include "graph_walk.hpp"

namespace nnx {

namespace {
State state_of(const detail::GraphWalk& walk) {
  State::Map map;
  for (const auto& [path, var] : walk.variables) map.emplace_hint(map.end(), path, *var);
  return State(std::move(map));
}

// A copy of `module` whose shared children are copies too (the sharing pattern kept).
std::shared_ptr<Module> copy_graph(const Module& module) {
  std::shared_ptr<Module> copy = module.clone_object();
  detail::deep_copy_children(*copy);
  return copy;
}
}  // namespace

const std::string& GraphDefBase::type_name() const {
  static const std::string none = "<empty GraphDef>";
  return nodes_.empty() ? none : nodes_.front().value;
}

GraphDefBase GraphAccess::graphdef(Module& module) {
  std::shared_ptr<Module> prototype = copy_graph(module);
  detail::GraphWalk walk = detail::walk_graph(*prototype);
  for (auto& [path, var] : walk.variables) var->value = var->value.as_abstract();
  return GraphDefBase(std::move(walk.nodes), std::move(prototype));
}

std::vector<State> GraphAccess::split(Module& module, const std::vector<Filter>& filters, bool exhaustive) {
  State all = state_of(detail::walk_graph(module, false));
  if (exhaustive) return all.split(filters);
  // Already ends with Everything (nnx::state(model) or a user's Everything): nothing is left over.
  if (!filters.empty() && filters.back().is_everything()) return all.split(filters);
  std::vector<Filter> with_rest = filters;
  with_rest.push_back(Everything{});
  std::vector<State> states = all.split(with_rest);
  states.pop_back();
  return states;
}

std::shared_ptr<Module> GraphAccess::merge(const GraphDefBase& graphdef, const std::vector<const State*>& states) {
  if (!graphdef.prototype())
    throw Error("merge: the GraphDef is empty (default-constructed); take it from nnx::split or nnx::graphdef");
  std::shared_ptr<Module> module = copy_graph(*graphdef.prototype());
  detail::GraphWalk walk = detail::walk_graph(*module, false);
  std::vector<State> given;
  for (const State* s : states) given.push_back(*s);
  State all = State::merge(given);
  std::vector<Difference> diffs = compare_structure(state_of(walk), all);
  if (!diffs.empty())
    throw StructureError("merge into " + graphdef.type_name() + ": the States do not fit the GraphDef", std::move(diffs),
                         "pass every State that split returned for this module; for a checkpoint, restore with this "
                         "model's abstract state (eval_shape + split) as the target");
  for (auto& [path, var] : walk.variables) {
    const Variable& v = all.at(path);
    var->value = v.value;
    var->metadata = v.metadata;
  }
  return module;
}

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

std::shared_ptr<Module> GraphAccess::clone(const Module& module) { return copy_graph(module); }

std::ostream& operator<<(std::ostream& os, const GraphDefBase& graphdef) {
  os << "GraphDef";
  for (const GraphNode& n : graphdef.nodes()) {
    std::string indent(2 * n.path.size(), ' ');
    std::string key = n.path.empty() ? "" : n.path.back().str();
    switch (n.what) {
      case GraphNode::What::module:
        os << (n.path.empty() ? " " + n.value : "\n" + indent + key + ": " + n.value);
        break;
      case GraphNode::What::container: os << "\n" << indent << key << ": " << n.value; break;
      case GraphNode::What::variable: os << "\n" << indent << key << ": " << n.value; break;
      case GraphNode::What::attribute: os << "\n" << indent << key << " = " << n.value; break;
      case GraphNode::What::shared: os << "\n" << indent << key << ": shared with " << n.value; break;
    }
  }
  return os << "\n";
}

}  // namespace nnx
