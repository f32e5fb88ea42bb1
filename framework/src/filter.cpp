#include "nnx/filter.hpp"

#include <algorithm>
#include <ostream>

namespace nnx {

Filter::Filter(Predicate predicate, std::string description)
    : predicate_(std::move(predicate)), description_(std::move(description)) {}

Filter Filter::of_kind(Kind kind) {
  return Filter([kind](const Path&, const Variable& v) { return v.kind().is_a(kind); }, kind.name());
}

Filter Filter::everything() {
  Filter f([](const Path&, const Variable&) { return true; }, "Everything");
  f.everything_ = true;
  return f;
}

Everything::operator Filter() const { return Filter::everything(); }
Nothing::operator Filter() const {
  return Filter([](const Path&, const Variable&) { return false; }, "Nothing");
}

Filter WithTag(std::string tag) {
  std::string description = "WithTag(" + tag + ")";
  return Filter([tag = std::move(tag)](const Path&, const Variable& v) { return v.meta("tag") == tag; },
                std::move(description));
}

Filter PathContains(PathKey key) {
  std::string description = "PathContains(" + key.str() + ")";
  return Filter([key = std::move(key)](const Path& p, const Variable&) { return p.contains(key); },
                std::move(description));
}

Filter PathIn(std::vector<Path> paths) {
  std::string description = "PathIn(";
  for (std::size_t i = 0; i < paths.size(); ++i) description += (i ? ", " : "") + paths[i].str();
  description += ")";
  return Filter(
      [paths = std::move(paths)](const Path& p, const Variable&) {
        return std::any_of(paths.begin(), paths.end(), [&](const Path& q) { return p.starts_with(q); });
      },
      std::move(description));
}

Filter Not(Filter filter) {
  std::string description = "Not(" + filter.description() + ")";
  return Filter([f = std::move(filter)](const Path& p, const Variable& v) { return !f(p, v); }, std::move(description));
}

namespace {
std::string join_descriptions(const char* name, const std::vector<Filter>& filters) {
  std::string d = std::string(name) + "(";
  for (std::size_t i = 0; i < filters.size(); ++i) d += (i ? ", " : "") + filters[i].description();
  return d + ")";
}
}  // namespace

Filter AnyOf(std::vector<Filter> filters) {
  std::string description = join_descriptions("Any", filters);
  return Filter(
      [fs = std::move(filters)](const Path& p, const Variable& v) {
        return std::any_of(fs.begin(), fs.end(), [&](const Filter& f) { return f(p, v); });
      },
      std::move(description));
}

Filter AllOf(std::vector<Filter> filters) {
  std::string description = join_descriptions("All", filters);
  return Filter(
      [fs = std::move(filters)](const Path& p, const Variable& v) {
        return std::all_of(fs.begin(), fs.end(), [&](const Filter& f) { return f(p, v); });
      },
      std::move(description));
}

std::ostream& operator<<(std::ostream& os, const Filter& filter) { return os << filter.description(); }

}  // namespace nnx
