#include "nnx/error.hpp"

#include <algorithm>

namespace nnx {

std::string_view difference_name(Difference::What what) {
  switch (what) {
    case Difference::What::missing: return "missing";
    case Difference::What::unexpected: return "unexpected";
    case Difference::What::kind: return "kind";
    case Difference::What::shape: return "shape";
    case Difference::What::dtype: return "dtype";
    case Difference::What::abstract: return "abstract";
  }
  return "?";
}

std::string Difference::str() const {
  std::string p = path.empty() ? "<root>" : path.str();
  switch (what) {
    case What::missing: return p + ": missing (expected " + expected + ", not found)";
    case What::unexpected: return p + ": unexpected (found " + found + ", not expected)";
    case What::kind: return p + ": expected kind " + expected + ", got " + found;
    case What::abstract: return p + ": expected " + expected + ", got " + found;
    case What::shape:
    case What::dtype: return p + ": expected " + expected + ", got " + found;
  }
  return p;
}

std::string format_differences(const std::string& context, const std::vector<Difference>& differences,
                               const std::string& remedy) {
  std::string msg = context + ": " + std::to_string(differences.size()) +
                    (differences.size() == 1 ? " difference" : " differences");
  // Grouped by what differs, each group in path order, so a long list stays readable.
  for (auto what : {Difference::What::missing, Difference::What::unexpected, Difference::What::kind,
                    Difference::What::shape, Difference::What::dtype, Difference::What::abstract}) {
    std::vector<const Difference*> group;
    for (const auto& d : differences)
      if (d.what == what) group.push_back(&d);
    if (group.empty()) continue;
    std::stable_sort(group.begin(), group.end(), [](auto* a, auto* b) { return a->path < b->path; });
    msg += "\n  " + std::string(difference_name(what)) + " (" + std::to_string(group.size()) + "):";
    for (const auto* d : group) msg += "\n    " + d->str();
  }
  if (!remedy.empty()) msg += "\n  fix: " + remedy;
  return msg;
}

StructureError::StructureError(std::string context, std::vector<Difference> differences, std::string remedy)
    : Error(format_differences(context, differences, remedy)),
      context_(std::move(context)),
      differences_(std::move(differences)) {}

}  // namespace nnx
