// nnx/graph.hpp — the functional API of Flax NNX: split, merge, state, update, graphdef, clone,
// eval_shape.
//
//   nnx::Rngs rngs(0);
//   nnx::models::MLP model({.in = 4, .hidden = {32, 32}, .out = 2}, rngs);
//   auto [graphdef, params, rest] = nnx::split(model, nnx::Param{}, nnx::Everything{});
//   nnx::models::MLP copy = nnx::merge(graphdef, params, rest);   // a new MLP, same values
//   nnx::update(model, params);                                   // write back by path
//
//   // A restore target: the structure of a model without its memory.
//   auto abstract = nnx::eval_shape([] { nnx::Rngs r(0); return nnx::models::MLP({...}, r); });
//   auto [gdef, abstract_state] = nnx::split(abstract);          // leaves: shape + dtype only
//
// Contracts:
//  * Paths are visited in sorted depth-first order; a module reachable through several
//    std::shared_ptr fields is visited once, at its first path, and merge restores the sharing.
//  * A GraphDef is pure data: for every node its path, what it is (module with its C++ type and
//    training mode, list, dict, variable with kind, shape and dtype, static attribute text, a link
//    to a shared module), nothing else. Two GraphDefs compare equal exactly when merge builds the
//    same object from them. merge default-constructs the recorded types and sets the declared
//    fields (module.hpp): a field not listed in NNX_FIELDS is not carried.
//  * merge<M> refuses a GraphDef of another C++ type with an nnx::Error naming both types.
//  * split walks the module once and copies nothing: States share buffers with the module
//    (copy-on-write); merge's module shares buffers with the States; clone is merge of split.
//  * Every check collects all differences and throws one StructureError naming each path.
#pragma once

#include <memory>
#include <tuple>
#include <typeinfo>
#include <utility>
#include <vector>

#include "nnx/filter.hpp"
#include "nnx/module.hpp"
#include "nnx/state.hpp"

namespace nnx {

// One line of a GraphDef: what sits at a path.
struct GraphNode {
  enum class What { module, list, dict, variable, attribute, shared, state };
  Path path;
  What what = What::module;
  std::string text;                      // module: type name; attribute: its value
  const std::type_info* type = nullptr;  // module: the C++ type merge builds
  ModuleFactory make = nullptr;          // module: default-constructs `type`
  bool training = true;                  // module: its training mode
  Kind kind = Kind::root();              // variable
  ShapeDtype shape_dtype{};              // variable
  Path target;                           // shared: the path where the module was first seen
  // Equal when merge would build the same thing (make is a function of type, so not compared).
  bool operator==(const GraphNode& other) const;
};

// The static part of a module: types, static attributes, structure and sharing, no values.
class GraphDefBase {
 public:
  GraphDefBase() = default;  // empty: merge refuses it
  const std::vector<GraphNode>& nodes() const { return nodes_; }
  bool empty() const { return nodes_.empty(); }
  const std::string& type_name() const;         // the root module's type name
  const std::type_info* type() const;           // the root module's C++ type; null when empty
  // The variables the GraphDef expects, as an abstract State (kinds, shapes, dtypes).
  State abstract_state() const;
  bool operator==(const GraphDefBase& other) const { return nodes_ == other.nodes_; }

 protected:
  explicit GraphDefBase(std::vector<GraphNode> nodes) : nodes_(std::move(nodes)) {}

 private:
  friend struct GraphAccess;
  std::vector<GraphNode> nodes_;
};

// GraphDef of a module of C++ type M: merge gives back an M. Only split and graphdef make one,
// so a GraphDef<B> cannot be made from a GraphDef<A>.
template <class M> class GraphDef : public GraphDefBase {
 public:
  GraphDef() = default;

 private:
  friend struct GraphAccess;
  explicit GraphDef(GraphDefBase base) : GraphDefBase(std::move(base)) {}
};

std::ostream& operator<<(std::ostream& os, const GraphDefBase& graphdef);

// The untyped core the templates below call; see their documentation.
struct GraphAccess {
  // One walk: the States per filter, and the GraphDef too when `graphdef` is not null.
  static std::vector<State> split(Module& module, const std::vector<Filter>& filters, bool exhaustive,
                                  GraphDefBase* graphdef = nullptr);
  static GraphDefBase graphdef(Module& module);
  static std::shared_ptr<Module> merge(const GraphDefBase& graphdef, const std::type_info& type,
                                       const std::vector<const State*>& states);
  static void update(Module& module, const std::vector<const State*>& states);
  static void set_training(Module& module, bool training);  // merge restores the recorded mode
  template <class M> static GraphDef<M> typed(GraphDefBase base) { return GraphDef<M>(std::move(base)); }
};

namespace detail {
template <class... F> std::vector<Filter> filters(F&&... f) { return {Filter(std::forward<F>(f))...}; }
template <std::size_t... I>
auto states_tuple(std::vector<State>& states, std::index_sequence<I...>) {
  return std::make_tuple(std::move(states[I])...);
}
// merge checked that the object's dynamic type is exactly M.
template <class M> M take(std::shared_ptr<Module> module) { return std::move(static_cast<M&>(*module)); }
// split, state and graphdef only read; visit() is non-const because update and merge share it.
inline Module& readable(const Module& m) { return const_cast<Module&>(m); }
}  // namespace detail

// The GraphDef of `module`.
template <class M> GraphDef<M> graphdef(const M& module) {
  return GraphAccess::typed<M>(GraphAccess::graphdef(detail::readable(module)));
}

// (GraphDef, State per filter). No filter means one State with everything. Filters must be
// exhaustive; nnx::Everything{} may only come last. Errors name the leftover paths.
template <class M, class... F> auto split(const M& module, F&&... filters) {
  static_assert(std::derived_from<M, Module>, "nnx::split takes a Module");
  constexpr std::size_t n = sizeof...(F) == 0 ? 1 : sizeof...(F);
  std::vector<Filter> list = sizeof...(F) == 0 ? detail::filters(Everything{}) : detail::filters(std::forward<F>(filters)...);
  GraphDefBase graphdef;
  std::vector<State> states = GraphAccess::split(detail::readable(module), list, true, &graphdef);
  return std::tuple_cat(std::make_tuple(GraphAccess::typed<M>(std::move(graphdef))),
                        detail::states_tuple(states, std::make_index_sequence<n>{}));
}

// The variables selected by `filter` (everything when none), not necessarily exhaustive.
template <class M> State state(const M& module) {
  return std::move(GraphAccess::split(detail::readable(module), {Everything{}}, false)[0]);
}
template <class M, class F> State state(const M& module, F&& filter) {
  return std::move(GraphAccess::split(detail::readable(module), detail::filters(std::forward<F>(filter)), false)[0]);
}
// One State per filter, as a tuple, variables going to the first filter that matches.
template <class M, class F1, class F2, class... F> auto state(const M& module, F1&& f1, F2&& f2, F&&... rest) {
  std::vector<State> states = GraphAccess::split(
      detail::readable(module), detail::filters(std::forward<F1>(f1), std::forward<F2>(f2), std::forward<F>(rest)...), false);
  return detail::states_tuple(states, std::make_index_sequence<2 + sizeof...(F)>{});
}

// Writes the values of `states` into `module` in place, by path. Every path must exist in the
// module with the same kind, shape and dtype; all differences are reported together.
template <class M, class... S> void update(M& module, const S&... states) {
  GraphAccess::update(module, {&states...});
}

// A new module of type M built from `graphdef` and `states`, which together must hold exactly the
// module's variables with matching kinds, shapes and dtypes.
template <class M, class... S> M merge(const GraphDef<M>& graphdef, const S&... states) {
  return detail::take<M>(GraphAccess::merge(graphdef, typeid(M), {&states...}));
}

// merge(split(module)): a new module with the same declared fields and sharing; its values are
// independent of the original's (copy-on-write). Undeclared fields are default-constructed.
template <class M> M clone(const M& module) {
  GraphDefBase graphdef;
  std::vector<State> all = GraphAccess::split(detail::readable(module), {Everything{}}, true, &graphdef);
  return detail::take<M>(GraphAccess::merge(graphdef, typeid(M), {&all[0]}));
}

// Runs `constructor` so that every Array it creates is abstract: the module it returns has the
// structure, shapes and dtypes of the real one and holds no parameter memory. Nothing outside is
// changed: draws from an Rngs the constructor captures return a fixed key and do not advance its
// counters, so a model built afterwards from that Rngs is the one it would have been.
template <class F> auto eval_shape(F&& constructor) {
  AbstractScope scope;
  return std::forward<F>(constructor)();
}

}  // namespace nnx
