// Internal: the canonical traversal of a module graph that split, state, update, merge, graphdef
// and train/eval share. Fields are visited in sorted key order, depth first; a module reachable
// through several shared_ptr fields is entered once, at its first path.
#pragma once

#include <functional>
#include <map>
#include <vector>

#include "nnx/graph.hpp"
#include "nnx/module.hpp"

namespace nnx::detail {

struct GraphWalk {
  std::vector<std::pair<Path, Variable*>> variables;  // sorted depth-first order
  std::vector<GraphNode> nodes;                        // the GraphDef's description
  std::vector<Module*> modules;                        // every distinct module, root first
};

// `describe` = false skips the GraphDef description (nodes): the hot paths need only variables.
GraphWalk walk_graph(Module& root, bool describe = true);

// Replaces every shared_ptr child below `root` by a copy, keeping the sharing pattern: two
// fields that pointed to one module point to one copy. `root` itself must already be a copy.
void deep_copy_children(Module& root);

}  // namespace nnx::detail
