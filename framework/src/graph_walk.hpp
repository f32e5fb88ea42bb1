// Internal: the canonical traversal of a module graph that split, state, update, graphdef and
// train/eval share. Fields are visited in sorted key order, depth first; a module reachable
// through several shared_ptr fields is entered once, at its first path.
#pragma once

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

}  // namespace nnx::detail
