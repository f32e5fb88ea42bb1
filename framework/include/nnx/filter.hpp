// nnx/filter.hpp — which Variables a split, state or optimizer selects.
//
//   nnx::split(model, nnx::Param{}, nnx::Everything{});              // by kind (and its subkinds)
//   nnx::state(model, nnx::RngState{});                              // RngKey and RngCount
//   nnx::state(model, nnx::WithTag("dropout"));                      // one RNG stream
//   nnx::state(model, nnx::PathContains("layers"));                  // any key equal to "layers"
//   nnx::state(model, nnx::All(nnx::Param{}, nnx::Not(nnx::PathContains("bias"))));
//   nnx::Filter([](const nnx::Path& p, const nnx::Variable& v) { return v.value.ndim() == 2; }, "matrices");
//
// A Filter is a predicate on (path, variable) plus a description used in error messages.
#pragma once

#include <concepts>
#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include "nnx/path.hpp"
#include "nnx/variable.hpp"

namespace nnx {

class Filter {
 public:
  using Predicate = std::function<bool(const Path&, const Variable&)>;

  Filter(Predicate predicate, std::string description);
  // A Variable kind used as a filter: nnx::Param{} selects Params and kinds derived from Param.
  template <class V>
    requires std::derived_from<V, Variable>
  Filter(const V&) : Filter(of_kind(V::static_kind())) {}
  static Filter of_kind(Kind kind);
  static Filter everything();  // what nnx::Everything{} converts to

  bool operator()(const Path& path, const Variable& variable) const { return predicate_(path, variable); }
  const std::string& description() const { return description_; }
  bool is_everything() const { return everything_; }

 private:
  Predicate predicate_;
  std::string description_;
  bool everything_ = false;
};

// `...` of NNX: matches everything. Allowed only as the last filter of split.
struct Everything {
  operator Filter() const;
};
struct Nothing {
  operator Filter() const;
};

Filter WithTag(std::string tag);                // metadata "tag" equals tag (RNG stream name)
Filter PathContains(PathKey key);               // some key of the path equals `key`
Filter PathIn(std::vector<Path> paths);         // the path is one of `paths` or lies below one
Filter Not(Filter filter);
Filter AnyOf(std::vector<Filter> filters);
Filter AllOf(std::vector<Filter> filters);
template <class... F> Filter Any(F&&... filters) { return AnyOf({Filter(std::forward<F>(filters))...}); }
template <class... F> Filter All(F&&... filters) { return AllOf({Filter(std::forward<F>(filters))...}); }

std::ostream& operator<<(std::ostream& os, const Filter& filter);

}  // namespace nnx
