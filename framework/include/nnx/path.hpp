// nnx/path.hpp — typed paths: the keys of a State and of a checkpoint.
//
// A path is a sequence of keys; a key is a string (a field name) or an integer (an index into a
// sequence of children). Integer keys stay integers everywhere — in a State, in a pure dict and on
// disk — so `layers/0/kernel` never becomes `layers/"0"/kernel`.
//
//   nnx::Path p{"layers", 0, "kernel"};
//   p.str();                                  // "layers/0/kernel"
//   nnx::Path::parse("layers/0/kernel") == p; // all-digit components parse as integers
//
// Order: keys compare integers before strings, integers numerically (layers/2 < layers/10),
// strings bytewise; paths compare lexicographically. This is the "sorted" of sorted depth-first order.
#pragma once

#include <compare>
#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

namespace nnx {

class PathKey {
 public:
  PathKey(std::string name) : name_(std::move(name)) {}
  PathKey(std::string_view name) : name_(name) {}
  PathKey(const char* name) : name_(name) {}
  PathKey(std::int64_t index) : index_(index), is_index_(true) {}
  PathKey(int index) : index_(index), is_index_(true) {}
  PathKey(std::size_t index) : index_(static_cast<std::int64_t>(index)), is_index_(true) {}

  bool is_index() const { return is_index_; }
  bool is_name() const { return !is_index(); }
  std::int64_t index() const;           // throws nnx::Error if a name
  const std::string& name() const;      // throws nnx::Error if an index
  std::string str() const;              // "kernel" or "0"

  bool operator==(const PathKey&) const = default;
  std::strong_ordering operator<=>(const PathKey& other) const;

 private:
  std::string name_;  // when a name
  std::int64_t index_ = 0;  // when an index
  bool is_index_ = false;
};

class Path {
 public:
  Path() = default;
  Path(std::initializer_list<PathKey> keys) : keys_(keys) {}
  explicit Path(std::vector<PathKey> keys) : keys_(std::move(keys)) {}

  // "a/0/b": components made only of digits become integer keys; "" is the empty path.
  static Path parse(std::string_view text);

  const std::vector<PathKey>& keys() const { return keys_; }
  std::size_t size() const { return keys_.size(); }
  bool empty() const { return keys_.empty(); }
  const PathKey& operator[](std::size_t i) const { return keys_[i]; }
  const PathKey& back() const { return keys_.back(); }
  auto begin() const { return keys_.begin(); }
  auto end() const { return keys_.end(); }

  Path operator/(const PathKey& key) const;
  Path operator/(const Path& suffix) const;
  void push_back(PathKey key) { keys_.push_back(std::move(key)); }
  void pop_back() { keys_.pop_back(); }
  bool starts_with(const Path& prefix) const;
  Path drop_front(std::size_t n) const;  // the path without its first n keys
  bool contains(const PathKey& key) const;

  std::string str() const;  // keys joined with '/'

  bool operator==(const Path&) const = default;
  std::strong_ordering operator<=>(const Path& other) const;

 private:
  std::vector<PathKey> keys_;
};

std::ostream& operator<<(std::ostream& os, const PathKey& key);
std::ostream& operator<<(std::ostream& os, const Path& path);

}  // namespace nnx
