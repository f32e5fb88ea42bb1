// The State printer, in the spirit of nnx.display: a header with totals per kind, then the tree.
#include <algorithm>
#include <iomanip>
#include <map>
#include <ostream>
#include <sstream>

#include "nnx/state.hpp"

namespace nnx {

namespace {
std::string with_commas(std::int64_t n) {
  std::string digits = std::to_string(n), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string pad(std::string s, std::size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

std::string metadata_string(const Metadata& m) {
  if (m.empty()) return "";
  std::string s = "  {";
  for (const auto& [k, v] : m) s += (s.size() > 3 ? ", " : "") + k + "=" + v;
  return s + "}";
}
}  // namespace

std::string format_bytes(std::uint64_t bytes) {
  const char* units[] = {"B", "KB", "MB", "GB", "TB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  std::ostringstream s;
  if (u == 0)
    s << bytes << " B";
  else
    s << std::fixed << std::setprecision(1) << v << " " << units[u];
  return s.str();
}

std::ostream& operator<<(std::ostream& os, const State& state) {
  struct Totals {
    std::int64_t variables = 0, elements = 0;
    std::size_t bytes = 0;
  };
  std::map<std::string, Totals> per_kind;
  for (const auto& [p, v] : state) {
    auto& t = per_kind[v.kind().name()];
    ++t.variables;
    t.elements += v.value.numel();
    t.bytes += v.value.nbytes();
  }
  os << "State: " << state.size() << (state.size() == 1 ? " variable, " : " variables, ")
     << with_commas(state.num_elements()) << (state.num_elements() == 1 ? " element, " : " elements, ") << format_bytes(state.num_bytes())
     << (state.has_abstract() ? " (abstract: no memory held)" : "") << "\n";
  for (const auto& [kind, t] : per_kind)
    os << "  " << pad(kind, 14) << pad(with_commas(t.variables) + (t.variables == 1 ? " variable" : " variables"), 15)
       << pad(with_commas(t.elements) + (t.elements == 1 ? " element" : " elements"), 22) << format_bytes(t.bytes) << "\n";

  // Tree lines: each interior key once, leaves with kind, dtype[shape], elements, bytes.
  std::vector<std::pair<std::string, const Variable*>> lines;
  const Path* previous = nullptr;
  for (const auto& [path, v] : state) {
    std::size_t common = 0;
    if (previous)
      while (common < previous->size() && common + 1 < path.size() && (*previous)[common] == path[common]) ++common;
    for (std::size_t i = common; i + 1 < path.size(); ++i)
      lines.emplace_back(std::string(2 * i + 2, ' ') + path[i].str() + "/", nullptr);
    lines.emplace_back(std::string(2 * path.size(), ' ') + (path.empty() ? "<root>" : path.back().str()), &v);
    previous = &path;
  }
  std::size_t width = 0;
  for (const auto& [text, v] : lines)
    if (v) width = std::max(width, text.size());
  for (const auto& [text, v] : lines) {
    if (!v) {
      os << text << "\n";
      continue;
    }
    os << pad(text, width + 2) << pad(v->kind().name(), 14) << pad(v->value.shape_dtype().str(), 20)
       << pad(with_commas(v->value.numel()), 12) << format_bytes(v->value.nbytes())
       << (v->value.is_abstract() ? "  (abstract)" : "") << metadata_string(v->metadata) << "\n";
  }
  return os;
}

}  // namespace nnx
