#include "nnx/state.hpp"

#include "nnx/pure_dict.hpp"

#include <algorithm>
#include <atomic>

namespace nnx {

std::uint64_t State::Version::next() {
  static std::atomic<std::uint64_t> counter{0};
  return counter.fetch_add(1, std::memory_order_relaxed) + 1;
}

namespace {
std::string describe(const Variable& v) { return v.kind().name() + " " + v.value.shape_dtype().str(); }
}  // namespace

const Variable& State::at(const Path& path) const {
  auto it = variables_.find(path);
  if (it != variables_.end()) return it->second;
  // Name what does exist at the deepest prefix of `path` that the State has, to point at typos.
  Path prefix = path;
  std::vector<PathKey> near = path.empty() ? children(prefix) : std::vector<PathKey>{};  // the root path
  while (!prefix.empty()) {
    prefix.pop_back();
    near = children(prefix);
    if (!near.empty()) break;
  }
  std::string keys;
  for (const auto& k : near) keys += (keys.empty() ? "" : ", ") + k.str();
  throw Error("State has no variable at '" + path.str() + "'; under '" + (prefix.empty() ? "<root>" : prefix.str()) +
              "' it has: " + (keys.empty() ? "nothing" : keys));
}

Variable& State::at(const Path& path) { return const_cast<Variable&>(static_cast<const State&>(*this).at(path)); }

State State::subtree(const Path& prefix) const {
  State out;
  for (auto it = variables_.lower_bound(prefix); it != variables_.end() && it->first.starts_with(prefix); ++it)
    out.variables_.emplace_hint(out.variables_.end(), it->first.drop_front(prefix.size()), it->second);
  return out;
}

std::vector<PathKey> State::children(const Path& prefix) const {
  std::vector<PathKey> keys;
  for (auto it = variables_.lower_bound(prefix); it != variables_.end() && it->first.starts_with(prefix); ++it) {
    if (it->first.size() == prefix.size()) continue;
    const PathKey& k = it->first[prefix.size()];
    if (keys.empty() || !(keys.back() == k)) keys.push_back(k);
  }
  return keys;
}

bool State::has_subtree(const Path& prefix) const {
  auto it = variables_.lower_bound(prefix);
  return it != variables_.end() && it->first.starts_with(prefix);
}

std::size_t State::erase_subtree(const Path& prefix) {
  auto first = variables_.lower_bound(prefix), last = first;
  std::size_t n = 0;
  for (; last != variables_.end() && last->first.starts_with(prefix); ++last) ++n;
  variables_.erase(first, last);
  if (n != 0) version_.renew();
  return n;
}

State State::filter(const Filter& filter) const {
  State out;
  for (const auto& [path, v] : variables_)
    if (filter(path, v)) out.variables_.emplace_hint(out.variables_.end(), path, v);
  return out;
}

std::vector<State> State::split(const std::vector<Filter>& filters) const {
  if (filters.empty()) throw Error("State::split: give at least one filter (nnx::Everything{} takes all)");
  for (std::size_t i = 0; i + 1 < filters.size(); ++i)
    if (filters[i].is_everything())
      throw Error("split: nnx::Everything{} must be the last filter; it is filter " + std::to_string(i + 1) + " of " +
                  std::to_string(filters.size()) + ", so the filters after it would never match");
  std::vector<State> out(filters.size());
  std::vector<Difference> leftover;
  for (const auto& [path, v] : variables_) {
    std::size_t i = 0;
    while (i < filters.size() && !filters[i](path, v)) ++i;  // the first filter that matches
    if (i == filters.size())
      leftover.push_back({path, Difference::What::unexpected, "", describe(v)});
    else
      out[i].variables_.emplace_hint(out[i].variables_.end(), path, v);
  }
  if (!leftover.empty())
    throw StructureError("split: the filters are not exhaustive; " + std::to_string(leftover.size()) +
                             " variables match no filter",
                         std::move(leftover), "add nnx::Everything{} as the last filter to collect the rest");
  return out;
}

State State::merge(const std::vector<State>& states) {
  State out;
  std::vector<Difference> duplicates;
  for (const auto& s : states)
    for (const auto& [path, v] : s.variables_)
      if (!out.variables_.emplace(path, v).second)
        duplicates.push_back({path, Difference::What::unexpected, "", describe(v) + " (also in an earlier State)"});
  if (!duplicates.empty())
    throw StructureError("merging States: paths present in more than one State", std::move(duplicates),
                         "split with disjoint filters, or drop the duplicate paths from one State");
  return out;
}

State State::difference(const State& other) const {
  State out;
  for (const auto& [path, v] : variables_)
    if (!other.contains(path)) out.variables_.emplace_hint(out.variables_.end(), path, v);
  return out;
}

PureDict State::to_pure_dict() const { return PureDict(*this); }

void State::replace_by_pure_dict(const PureDict& dict, bool cast_dtypes) {
  const State& incoming = dict.state();
  CompareOptions options;
  options.kinds = false;
  options.dtypes = !cast_dtypes;
  std::vector<Difference> diffs = compare_structure(*this, incoming, options);
  if (!diffs.empty())
    throw StructureError("replace_by_pure_dict", std::move(diffs),
                         "edit the dict so its paths, shapes and dtypes match the State (or pass cast_dtypes = true "
                         "to convert dtypes)");
  auto in = incoming.begin();  // same paths in the same order: one lockstep pass
  for (auto& [path, v] : variables_) {
    const Array& a = (in++)->second.value;
    v.value = a.dtype() == v.value.dtype() ? a : a.astype(v.value.dtype());
  }
}

State State::from_pure_dict(const PureDict& dict) { return dict.state(); }

State State::from_pure_dict(const PureDict& dict, Kind kind) {
  State out = dict.state();
  for (auto& [path, v] : out.variables_) v = Variable(kind, std::move(v.value), std::move(v.metadata));
  return out;
}

std::int64_t State::num_elements() const {
  std::int64_t n = 0;
  for (const auto& [p, v] : variables_) n += v.value.numel();
  return n;
}

std::size_t State::num_bytes() const {
  std::size_t n = 0;
  for (const auto& [p, v] : variables_) n += v.value.nbytes();
  return n;
}

bool State::has_abstract() const {
  return std::any_of(variables_.begin(), variables_.end(), [](const auto& e) { return e.second.value.is_abstract(); });
}

State State::as_abstract() const {
  State out = *this;
  for (auto& [p, v] : out.variables_) v.value = v.value.as_abstract();
  return out;
}

std::vector<Difference> compare_structure(const State& expected, const State& found, const CompareOptions& options) {
  std::vector<Difference> diffs;
  auto e = expected.begin(), f = found.begin();
  while (e != expected.end() || f != found.end()) {
    if (f == found.end() || (e != expected.end() && e->first < f->first)) {
      if (options.missing) diffs.push_back({e->first, Difference::What::missing, describe(e->second), ""});
      ++e;
    } else if (e == expected.end() || f->first < e->first) {
      if (options.unexpected) diffs.push_back({f->first, Difference::What::unexpected, "", describe(f->second)});
      ++f;
    } else {
      const Variable &ev = e->second, &fv = f->second;
      if (options.kinds && ev.kind() != fv.kind())
        diffs.push_back({e->first, Difference::What::kind, ev.kind().name(), fv.kind().name()});
      const ShapeDtype es = ev.value.shape_dtype(), fs = fv.value.shape_dtype();
      if (options.shapes && es.shape != fs.shape)
        diffs.push_back({e->first, Difference::What::shape, es.str(), fs.str()});
      else if (options.dtypes && es.dtype != fs.dtype)
        diffs.push_back({e->first, Difference::What::dtype, es.str(), fs.str()});
      ++e;
      ++f;
    }
  }
  return diffs;
}

bool state_equal(const State& a, const State& b) {
  if (a.size() != b.size()) return false;
  for (auto i = a.begin(), j = b.begin(); i != a.end(); ++i, ++j)
    if (!(i->first == j->first) || i->second.kind() != j->second.kind() || i->second.metadata != j->second.metadata ||
        !array_equal(i->second.value, j->second.value))
      return false;
  return true;
}

}  // namespace nnx
