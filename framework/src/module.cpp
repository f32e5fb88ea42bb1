#include "nnx/module.hpp"

#include <cxxabi.h>

#include <charconv>
#include <cstdlib>
#include <memory>
#include <typeinfo>

#include "graph_walk.hpp"
#include "nnx/error.hpp"

namespace nnx {

std::string Module::type_name() const {
  const char* mangled = typeid(*this).name();
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> demangled(abi::__cxa_demangle(mangled, nullptr, nullptr, &status), std::free);
  return status == 0 && demangled ? std::string(demangled.get()) : std::string(mangled);
}

void Visitor::visit_state(const PathKey& key, State& state) {
  begin_container(key, "dict");
  Path open;  // the containers currently open below `key`
  for (auto& [path, var] : state) {
    if (path.empty()) throw Error("a State field cannot hold a variable at the empty path");
    std::size_t common = 0;
    while (common < open.size() && common + 1 < path.size() && open[common] == path[common]) ++common;
    while (open.size() > common) {
      end_container();
      open.pop_back();
    }
    for (std::size_t i = common; i + 1 < path.size(); ++i) {
      begin_container(path[i], "dict");
      open.push_back(path[i]);
    }
    on_variable(path.back(), var);
  }
  for (std::size_t i = 0; i < open.size(); ++i) end_container();
  end_container();
}

void Module::set_training(bool training) {
  for (Module* m : detail::walk_graph(*this, false).modules) m->training_ = training;
}

namespace detail {

std::vector<std::string> split_field_names(std::string_view names) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= names.size()) {
    std::size_t end = names.find(',', start);
    if (end == std::string_view::npos) end = names.size();
    std::string_view part = names.substr(start, end - start);
    while (!part.empty() && (part.front() == ' ' || part.front() == '\n' || part.front() == '\t')) part.remove_prefix(1);
    while (!part.empty() && (part.back() == ' ' || part.back() == '\n' || part.back() == '\t')) part.remove_suffix(1);
    if (!part.empty()) out.emplace_back(part);
    start = end + 1;
  }
  return out;
}

std::string attribute_string(double value) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, value);  // shortest text that reads back exactly
  return std::string(buf, r.ptr);
}
std::string attribute_string(std::int64_t value) { return std::to_string(value); }
std::string attribute_string(std::uint64_t value) { return std::to_string(value); }

}  // namespace detail
}  // namespace nnx
