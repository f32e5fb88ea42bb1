// nnx/pure_dict.hpp — nested maps of Arrays, as State.to_pure_dict() gives in Flax: a view of State.
//
// nnx has one tree type, State (sorted typed paths -> Variables). A PureDict is a State seen as
// nested maps whose leaves are Arrays: it is what a checkpoint restored without a target gives
// back, and what a user edits by hand (rename a layer, drop a head) before putting it back.
// Integer keys stay integers: d["layers"][0]["kernel"].
//
//   nnx::PureDict d = manager.restore_pure_dict();     // no conversion: the restored State, viewed
//   d["layers"][0]["kernel"].array();                   // the Array
//   d["encoder"] = d.at("body");                         // copy a subtree under a new name
//   d.erase("body");
//   abstract_state.replace_by_pure_dict(d);              // checked path by path, no conversion
//
// Kinds and metadata: the dict shows only Arrays, but each leaf remembers the Variable it came
// from, so State::from_pure_dict(d) gives back the kinds as stored (a BatchStat stays a BatchStat)
// and replacing a leaf's Array keeps its kind. A leaf created from a bare Array is a Param.
//
// Value and reference: copying a PureDict copies the tree (Arrays copy-on-write, so cheaply);
// d["x"] and d.at("x") return a Ref — a reference to the node, as a Python dict subscript is —
// valid while `d` lives. Assigning to a Ref replaces that whole subtree; a missing node springs
// into existence when something is assigned into it (d["new"]["w"] = array).
#pragma once

#include <iosfwd>
#include <optional>
#include <utility>
#include <vector>

#include "nnx/array.hpp"
#include "nnx/path.hpp"
#include "nnx/state.hpp"

namespace nnx {

class PureDict {
 public:
  class ConstRef;
  // A reference to the node at `path()` of a PureDict.
  class Ref {
   public:
    const Path& path() const { return prefix_; }
    bool is_leaf() const;
    const Array& array() const;       // throws nnx::Error if not a leaf, listing the keys
    Array& array();
    Ref operator[](const PathKey& key) const;  // throws if this node is a leaf
    Ref at(const PathKey& key) const;          // throws nnx::Error naming the key and the keys that exist
    bool contains(const PathKey& key) const;
    bool erase(const PathKey& key) const;      // the subtree at key; false when absent
    std::size_t size() const;                  // number of keys directly below
    std::vector<PathKey> keys() const;         // sorted
    std::vector<std::pair<Path, Array>> flatten() const;  // leaves below, paths relative, sorted
    // Assignment writes through (a Ref never rebinds): the node becomes a leaf, or a copy of the
    // subtree (which may overlap this node: it is read first).
    Ref(const Ref&) = default;
    Ref& operator=(Array leaf);
    Ref& operator=(const ConstRef& subtree);
    Ref& operator=(const Ref& subtree);
    Ref& operator=(const PureDict& subtree);

   private:
    friend class PureDict;
    Ref(State* tree, Path prefix) : tree_(tree), prefix_(std::move(prefix)) {}
    State* tree_;
    Path prefix_;
  };
  // A read-only reference.
  class ConstRef {
   public:
    ConstRef(const Ref& r) : tree_(r.tree_), prefix_(r.prefix_) {}  // NOLINT: a Ref reads as a ConstRef
    const Path& path() const { return prefix_; }
    bool is_leaf() const;
    const Array& array() const;
    ConstRef operator[](const PathKey& key) const { return at(key); }
    ConstRef at(const PathKey& key) const;
    bool contains(const PathKey& key) const;
    std::size_t size() const;
    std::vector<PathKey> keys() const;
    std::vector<std::pair<Path, Array>> flatten() const;
    State subtree() const;  // the Variables below, paths relative

   private:
    friend class PureDict;
    ConstRef(const State* tree, Path prefix) : tree_(tree), prefix_(std::move(prefix)) {}
    const State* tree_;
    Path prefix_;
  };

  PureDict() = default;                       // an empty map
  PureDict(Array leaf);                       // NOLINT: a leaf
  explicit PureDict(State tree) : tree_(std::move(tree)) {}  // the State itself, viewed as maps
  PureDict(const ConstRef& subtree) : tree_(subtree.subtree()) {}  // NOLINT: a copy of a subtree
  PureDict(const Ref& subtree) : PureDict(ConstRef(subtree)) {}    // NOLINT

  // The root node's interface (see Ref).
  bool is_leaf() const { return root().is_leaf(); }
  const Array& array() const { return root().array(); }
  Array& array() { return root().array(); }
  Ref operator[](const PathKey& key) { return root()[key]; }
  ConstRef operator[](const PathKey& key) const { return root().at(key); }
  Ref at(const PathKey& key) { return root().at(key); }
  ConstRef at(const PathKey& key) const { return root().at(key); }
  bool contains(const PathKey& key) const { return root().contains(key); }
  bool erase(const PathKey& key) { return root().erase(key); }
  std::size_t size() const { return root().size(); }
  std::vector<PathKey> keys() const { return root().keys(); }
  std::vector<std::pair<Path, Array>> flatten() const { return root().flatten(); }

  // Leaf at `path`, creating maps on the way (a leaf on the way becomes a map); replaces what was there.
  void set(const Path& path, Array leaf) { Ref(&tree_, path) = std::move(leaf); }
  std::optional<ConstRef> find(const Path& path) const;  // nothing when absent

  // The tree itself: paths, kinds, metadata, Arrays.
  const State& state() const& { return tree_; }
  State state() && { return std::move(tree_); }

 private:
  Ref root() { return Ref(&tree_, {}); }
  ConstRef root() const { return ConstRef(&tree_, {}); }
  State tree_;
};

std::ostream& operator<<(std::ostream& os, const PureDict& dict);

}  // namespace nnx
