// nnx/error.hpp — the exceptions nnx throws.
//
// Errors are part of the interface. Every message names the path (or file), what was expected and
// what was found, and when several paths are wrong it lists all of them:
//
//   try { nnx::update(model, state); }
//   catch (const nnx::StructureError& e) {
//     for (const auto& d : e.differences()) std::cerr << d.str() << "\n";  // one per path
//   }
//
//   layers/1/kernel: expected float32[32,32], got float32[32,16]
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "nnx/path.hpp"

namespace nnx {

// Base of every exception nnx throws.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One way two tree structures (a module and a State, a target and a checkpoint) differ at a path.
struct Difference {
  enum class What { missing, unexpected, kind, shape, dtype, abstract };
  Path path;
  What what;
  std::string expected;  // e.g. "float32[32,32]", "Param"; empty for unexpected
  std::string found;     // e.g. "float32[32,16]"; empty for missing
  std::string str() const;  // "layers/1/kernel: expected float32[32,32], got float32[32,16]"
};

std::string_view difference_name(Difference::What what);

// Thrown when structures differ: lists every differing path, grouped, in sorted path order.
// `context` says what was being done ("merge", "update", "restore step 400 of /ckpt"); `remedy`
// says what the user can do about it.
class StructureError : public Error {
 public:
  StructureError(std::string context, std::vector<Difference> differences, std::string remedy = {});
  const std::vector<Difference>& differences() const { return differences_; }
  const std::string& context() const { return context_; }

 private:
  std::string context_;
  std::vector<Difference> differences_;
};

// Builds the message of a StructureError; exposed for tools that print differences themselves.
std::string format_differences(const std::string& context, const std::vector<Difference>& differences,
                               const std::string& remedy);

}  // namespace nnx
