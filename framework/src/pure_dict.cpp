// PureDict: nested-map operations on a State's sorted paths. A node at prefix P is a leaf when the
// State has a variable at P, a map when it has variables strictly below P; the root always exists.
#include "nnx/pure_dict.hpp"

#include <ostream>

#include "nnx/error.hpp"

namespace nnx {

namespace {
std::string key_list(const std::vector<PathKey>& keys) {
  std::string s;
  for (const auto& k : keys) s += (s.empty() ? "" : ", ") + k.str();
  return s.empty() ? "none" : s;
}

std::string where(const Path& p) { return p.empty() ? "the root" : "'" + p.str() + "'"; }

const Variable& leaf_at(const State& tree, const Path& p) {
  auto it = tree.variables().find(p);
  if (it == tree.end())
    throw Error("PureDict: expected a leaf (an Array) at " + where(p) + ", got a map with keys: " +
                key_list(tree.children(p)));
  return it->second;
}

void check_child(const State& tree, const Path& p, const PathKey& key) {
  if (!tree.has_subtree(p / key))
    throw Error("PureDict: no key '" + key.str() + "' at " + where(p) + " (keys: " + key_list(tree.children(p)) + ")");
}

std::vector<std::pair<Path, Array>> flatten(const State& tree, const Path& p) {
  std::vector<std::pair<Path, Array>> out;
  for (auto it = tree.variables().lower_bound(p); it != tree.end() && it->first.starts_with(p); ++it)
    out.emplace_back(it->first.drop_front(p.size()), it->second.value);
  return out;
}

// Replaces the subtree at `p` by `subtree` (paths relative to it), clearing leaves on the way so
// that the tree stays a tree: no path is both a leaf and a map.
void put(State& tree, const Path& p, const State& subtree) {
  Path up = p;
  while (!up.empty()) {
    up.pop_back();
    tree.erase(up);
  }
  tree.erase_subtree(p);
  for (const auto& [rel, v] : subtree) tree.set(p / rel, v);
}
}  // namespace

PureDict::PureDict(Array leaf) { tree_.set({}, Param(std::move(leaf))); }

bool PureDict::Ref::is_leaf() const { return ConstRef(*this).is_leaf(); }
const Array& PureDict::Ref::array() const { return leaf_at(*tree_, prefix_).value; }
Array& PureDict::Ref::array() { return const_cast<Variable&>(leaf_at(*tree_, prefix_)).value; }

PureDict::Ref PureDict::Ref::operator[](const PathKey& key) const {
  if (is_leaf()) throw Error("PureDict: " + where(prefix_) + " is a leaf; it has no key '" + key.str() + "'");
  return Ref(tree_, prefix_ / key);
}

PureDict::Ref PureDict::Ref::at(const PathKey& key) const {
  check_child(*tree_, prefix_, key);
  return Ref(tree_, prefix_ / key);
}

bool PureDict::Ref::contains(const PathKey& key) const { return ConstRef(*this).contains(key); }
bool PureDict::Ref::erase(const PathKey& key) const { return tree_->erase_subtree(prefix_ / key) != 0; }
std::size_t PureDict::Ref::size() const { return tree_->children(prefix_).size(); }
std::vector<PathKey> PureDict::Ref::keys() const { return tree_->children(prefix_); }
std::vector<std::pair<Path, Array>> PureDict::Ref::flatten() const { return nnx::flatten(*tree_, prefix_); }

PureDict::Ref& PureDict::Ref::operator=(Array leaf) {
  // A leaf that is replaced keeps its kind and metadata; a new one is a Param.
  auto it = tree_->variables().find(prefix_);
  Variable v = it != tree_->end() ? Variable(it->second.kind(), std::move(leaf), it->second.metadata) : Param(std::move(leaf));
  State one;
  one.set({}, std::move(v));
  put(*tree_, prefix_, one);
  return *this;
}

PureDict::Ref& PureDict::Ref::operator=(const ConstRef& subtree) {
  put(*tree_, prefix_, subtree.subtree());  // read before anything is erased: overlap is fine
  return *this;
}
PureDict::Ref& PureDict::Ref::operator=(const Ref& subtree) { return *this = ConstRef(subtree); }
PureDict::Ref& PureDict::Ref::operator=(const PureDict& subtree) {
  put(*tree_, prefix_, State(subtree.state()));
  return *this;
}

bool PureDict::ConstRef::is_leaf() const { return tree_->contains(prefix_); }
const Array& PureDict::ConstRef::array() const { return leaf_at(*tree_, prefix_).value; }
PureDict::ConstRef PureDict::ConstRef::at(const PathKey& key) const {
  check_child(*tree_, prefix_, key);
  return ConstRef(tree_, prefix_ / key);
}
bool PureDict::ConstRef::contains(const PathKey& key) const { return !is_leaf() && tree_->has_subtree(prefix_ / key); }
std::size_t PureDict::ConstRef::size() const { return tree_->children(prefix_).size(); }
std::vector<PathKey> PureDict::ConstRef::keys() const { return tree_->children(prefix_); }
std::vector<std::pair<Path, Array>> PureDict::ConstRef::flatten() const { return nnx::flatten(*tree_, prefix_); }
State PureDict::ConstRef::subtree() const { return prefix_.empty() ? *tree_ : tree_->subtree(prefix_); }

std::optional<PureDict::ConstRef> PureDict::find(const Path& path) const {
  if (!path.empty() && !tree_.has_subtree(path)) return std::nullopt;
  // A path through a leaf ("head/x" when "head" is a leaf) finds nothing.
  for (Path up = path; !up.empty();) {
    up.pop_back();
    if (tree_.contains(up)) return std::nullopt;
  }
  return ConstRef(&tree_, path);
}

std::ostream& operator<<(std::ostream& os, const PureDict& dict) {
  if (dict.is_leaf()) return os << dict.array().shape_dtype() << "\n";
  // One line per map node on the way to each leaf, indented by depth, keys as Flax prints them.
  Path previous;
  for (const auto& [path, v] : dict.state()) {
    std::size_t common = 0;
    while (common < previous.size() && common < path.size() && previous[common] == path[common]) ++common;
    for (std::size_t i = common; i < path.size(); ++i) {
      os << std::string(2 * i, ' ');
      if (path[i].is_index())
        os << '[' << path[i].index() << ']';
      else
        os << path[i].name();
      if (i + 1 == path.size())
        os << ": " << v.value.shape_dtype() << "\n";
      else
        os << "\n";
    }
    previous = path;
  }
  return os;
}

}  // namespace nnx
