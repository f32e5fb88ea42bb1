#include "nnx/path.hpp"

#include <charconv>
#include <ostream>

#include "nnx/error.hpp"

namespace nnx {

std::int64_t PathKey::index() const {
  if (!is_index_) throw Error("path key '" + name_ + "' is a name, not an index");
  return index_;
}

const std::string& PathKey::name() const {
  if (is_index_) throw Error("path key " + std::to_string(index_) + " is an index, not a name");
  return name_;
}

std::string PathKey::str() const { return is_index_ ? std::to_string(index_) : name_; }

std::strong_ordering PathKey::operator<=>(const PathKey& other) const {
  if (is_index_ != other.is_index_) return is_index_ ? std::strong_ordering::less : std::strong_ordering::greater;
  if (is_index_) return index_ <=> other.index_;
  return name_.compare(other.name_) <=> 0;
}

Path Path::parse(std::string_view text) {
  Path path;
  std::size_t start = 0;
  while (start <= text.size() && !text.empty()) {
    std::size_t end = text.find('/', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view part = text.substr(start, end - start);
    if (part.empty()) throw Error("invalid path '" + std::string(text) + "': empty key between slashes");
    bool digits = part.find_first_not_of("0123456789") == std::string_view::npos;
    std::int64_t index = 0;
    if (digits && std::from_chars(part.data(), part.data() + part.size(), index).ec == std::errc{})
      path.push_back(PathKey(index));
    else
      path.push_back(PathKey(part));
    start = end + 1;
  }
  return path;
}

Path Path::operator/(const PathKey& key) const {
  Path p = *this;
  p.keys_.push_back(key);
  return p;
}

Path Path::operator/(const Path& suffix) const {
  Path p = *this;
  p.keys_.insert(p.keys_.end(), suffix.keys_.begin(), suffix.keys_.end());
  return p;
}

bool Path::starts_with(const Path& prefix) const {
  if (prefix.size() > size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i)
    if (!(keys_[i] == prefix.keys_[i])) return false;
  return true;
}

Path Path::drop_front(std::size_t n) const {
  if (n >= keys_.size()) return Path();
  return Path(std::vector<PathKey>(keys_.begin() + static_cast<std::ptrdiff_t>(n), keys_.end()));
}

bool Path::contains(const PathKey& key) const {
  for (const auto& k : keys_)
    if (k == key) return true;
  return false;
}

std::string Path::str() const {
  std::string s;
  for (std::size_t i = 0; i < keys_.size(); ++i) {
    if (i) s += '/';
    s += keys_[i].str();
  }
  return s;
}

std::strong_ordering Path::operator<=>(const Path& other) const {
  std::size_t n = std::min(size(), other.size());
  for (std::size_t i = 0; i < n; ++i)
    if (auto c = keys_[i] <=> other.keys_[i]; c != 0) return c;
  return size() <=> other.size();
}

std::ostream& operator<<(std::ostream& os, const PathKey& key) { return os << key.str(); }
std::ostream& operator<<(std::ostream& os, const Path& path) { return os << path.str(); }

}  // namespace nnx
