#include "nnx/module.hpp"

#include <cxxabi.h>

#include <charconv>
#include <cstdlib>
#include <memory>
#include <typeinfo>

#include "graph_walk.hpp"
#include "nnx/error.hpp"

namespace nnx {

std::string Module::type_name() const { return detail::demangle(typeid(*this)); }

void Module::set_training(bool training) {
  for (Module* m : detail::walk_graph(*this, false).modules) m->training_ = training;
}

namespace detail {

std::string demangle(const std::type_info& type) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> demangled(abi::__cxa_demangle(type.name(), nullptr, nullptr, &status), std::free);
  return status == 0 && demangled ? std::string(demangled.get()) : std::string(type.name());
}

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

void bad_attribute(std::string_view text, const char* type) {
  throw Error("merge: the GraphDef's attribute text '" + std::string(text) + "' is not a valid " + type);
}

void wrong_shared_type(const PathKey& key, const Module& found, const std::type_info& field) {
  throw Error("merge: field '" + key.str() + "' holds a std::shared_ptr<" + demangle(field) + ">, but the GraphDef has a " +
              found.type_name() + " there");
}

}  // namespace detail
}  // namespace nnx
