// Internal: the canonical traversal of a module graph that split, state, update, graphdef and
// train/eval share. Fields are visited in sorted key order, depth first; a module reachable
// through several shared_ptr fields is entered once, at its first path.
#pragma once

#include <cstdint>
#include <memory>
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

// What FieldCheck (module.hpp) reads: the graph's Variables, sorted by address, and the byte
// range of every module object.
struct FieldLayout {
  struct Object {
    std::uintptr_t begin, end;
    const Module* module;
  };
  std::vector<const Variable*> variables;
  std::vector<Object> objects;
  static FieldLayout of(const GraphWalk& walk);
};

// A walk (describe = false) kept per thread for the hot paths: value_and_grad, the optimizer,
// predict and evaluate walk the same model every step.
struct CachedWalk {
  GraphWalk walk;
  FieldLayout fields;
  std::uint64_t generation = 0;  // unique per walk computed: equal generations mean the same walk
};

// The walk of `root`, recomputed only when the graph may have changed. Every call visits the
// graph (virtual visit(), no sorting, no paths built) and compares what it sees with what it saw
// when the walk was computed: each field's kind, key, address and dynamic type, and each State
// field's structure_version(). The walk is a function of exactly these, so a cached walk is
// returned only when a fresh one would be identical. Keeps the last few roots per thread.
std::shared_ptr<const CachedWalk> cached_walk(Module& root);

}  // namespace nnx::detail
