#include "nnx/pure_dict.hpp"

#include <algorithm>
#include <ostream>

#include "nnx/error.hpp"

namespace nnx {

namespace {
template <class Children> auto find_key(Children& children, const PathKey& key) { return children.find(key); }

std::string key_list(const std::map<PathKey, PureDict>& children) {
  std::string s;
  for (const auto& [k, v] : children) s += (s.empty() ? "" : ", ") + k.str();
  return s.empty() ? "none" : s;
}
}  // namespace

const Array& PureDict::array() const {
  if (!leaf_) throw Error("PureDict: expected a leaf (an Array), got a map with keys: " + key_list(children_));
  return *leaf_;
}

Array& PureDict::array() {
  if (!leaf_) throw Error("PureDict: expected a leaf (an Array), got a map with keys: " + key_list(children_));
  return *leaf_;
}

PureDict& PureDict::operator[](const PathKey& key) {
  if (leaf_) throw Error("PureDict: cannot index a leaf with key '" + key.str() + "'");
  return children_[key];
}

const PureDict& PureDict::at(const PathKey& key) const {
  auto it = find_key(children_, key);
  if (it == children_.end())
    throw Error("PureDict: no key '" + key.str() + "' (keys: " + key_list(children_) + ")");
  return it->second;
}

PureDict& PureDict::at(const PathKey& key) {
  return const_cast<PureDict&>(static_cast<const PureDict&>(*this).at(key));
}

bool PureDict::contains(const PathKey& key) const { return find_key(children_, key) != children_.end(); }

bool PureDict::erase(const PathKey& key) {
  auto it = find_key(children_, key);
  if (it == children_.end()) return false;
  children_.erase(it);
  return true;
}

void PureDict::set(const Path& path, Array leaf) {
  PureDict* node = this;
  for (const auto& key : path) {
    if (node->leaf_) node->leaf_.reset();
    node = &(*node)[key];
  }
  node->children_.clear();
  node->leaf_ = std::move(leaf);
}

const PureDict* PureDict::find(const Path& path) const {
  const PureDict* node = this;
  for (const auto& key : path) {
    auto it = find_key(node->children_, key);
    if (it == node->children_.end()) return nullptr;
    node = &it->second;
  }
  return node;
}

namespace {
void flatten_into(const PureDict& d, Path& prefix, std::vector<std::pair<Path, Array>>& out) {
  if (d.is_leaf()) {
    out.emplace_back(prefix, d.array());
    return;
  }
  for (const auto& [k, child] : d.items()) {
    prefix.push_back(k);
    flatten_into(child, prefix, out);
    prefix.pop_back();
  }
}

void print(std::ostream& os, const PureDict& d, int indent) {
  for (const auto& [k, child] : d.items()) {
    os << std::string(static_cast<std::size_t>(indent) * 2, ' ');
    if (k.is_index())
      os << '[' << k.index() << ']';
    else
      os << k.name();
    if (child.is_leaf()) {
      os << ": " << child.array().shape_dtype() << "\n";
    } else {
      os << "\n";
      print(os, child, indent + 1);
    }
  }
}
}  // namespace

std::vector<std::pair<Path, Array>> PureDict::flatten() const {
  std::vector<std::pair<Path, Array>> out;
  Path prefix;
  flatten_into(*this, prefix, out);
  return out;
}

std::ostream& operator<<(std::ostream& os, const PureDict& dict) {
  if (dict.is_leaf()) return os << dict.array().shape_dtype() << "\n";
  print(os, dict, 0);
  return os;
}

}  // namespace nnx
