// nnx/pure_dict.hpp — plain nested maps of Arrays, as State.to_pure_dict() gives in Flax.
//
// A PureDict node is either a leaf (an Array) or a map from PathKey to PureDict. It carries no
// Variable kinds: it is what a checkpoint restored without a target gives back, and what a user
// edits by hand (rename a layer, drop a head) before State::replace_by_pure_dict rebuilds a typed
// State. Integer keys stay integers: d["layers"][0]["kernel"].
//
//   nnx::PureDict d = state.to_pure_dict();
//   d["layers"][0]["kernel"].array();                 // the Array
//   d.flatten();                                      // [(layers/0/kernel, Array), ...] sorted
//   state.replace_by_pure_dict(d);
#pragma once

#include <iosfwd>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "nnx/array.hpp"
#include "nnx/path.hpp"

namespace nnx {

class PureDict {
 public:
  PureDict() = default;              // an empty map
  PureDict(Array leaf) : leaf_(std::move(leaf)) {}

  bool is_leaf() const { return leaf_.has_value(); }
  const Array& array() const;        // throws nnx::Error if not a leaf
  Array& array();

  // Map access. operator[] inserts an empty map when the key is absent (turning an empty node
  // into a map); at() throws nnx::Error naming the key and the keys that exist.
  PureDict& operator[](const PathKey& key);
  const PureDict& at(const PathKey& key) const;
  PureDict& at(const PathKey& key);
  bool contains(const PathKey& key) const;
  bool erase(const PathKey& key);
  std::size_t size() const { return children_.size(); }
  const std::map<PathKey, PureDict>& items() const { return children_; }  // sorted by key

  // Leaf at `path`, creating maps on the way; replaces what was there.
  void set(const Path& path, Array leaf);
  const PureDict* find(const Path& path) const;  // nullptr when absent
  // Every leaf with its full path, in sorted path order.
  std::vector<std::pair<Path, Array>> flatten() const;

 private:
  std::optional<Array> leaf_;
  // A map, not a vector: references to children stay valid when siblings are added, so
  // d["new"] = d.at("old") is safe. (std::map of an incomplete type: supported by libstdc++ and libc++.)
  std::map<PathKey, PureDict> children_;
};

std::ostream& operator<<(std::ostream& os, const PureDict& dict);

}  // namespace nnx
