// tests/framework/fixtures.hpp — helpers the framework tests share for checking error messages.
//
//   using namespace framework_test;
//   CHECK(has(error_of([] { nnx::load_csv("missing.csv"); }), "missing.csv"));
#pragma once

#include <string>

#include <nnx/nnx.hpp>

namespace framework_test {

// The message of the nnx::Error `f` throws, "<no exception>" when it throws none.
template <class F> std::string error_of(F&& f) {
  try {
    f();
  } catch (const nnx::Error& e) {
    return e.what();
  }
  return "<no exception>";
}

inline bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace framework_test
