// nnx/state.hpp — State: what split returns, merge consumes and checkpoints save.
//
// A State maps typed paths to Variables (kind, metadata, and an Array that may be abstract),
// iterated in sorted path order. Copying a State is cheap: Arrays share buffers copy-on-write.
//
//   auto [graphdef, params, rest] = nnx::split(model, nnx::Param{}, nnx::Everything{});
//   for (const auto& [path, var] : params) std::cout << path << " " << var.value.shape_dtype() << "\n";
//   params.at("layers/0/kernel").value;              // string paths parse "0" as an integer key
//   params.subtree({"layers", 0});                    // {kernel, bias}, paths relative
//   std::cout << params;                              // tree with kinds, dtypes, shapes, counts, bytes
//   nnx::PureDict d = params.to_pure_dict();          // plain nested maps, integer keys intact
//   params.replace_by_pure_dict(d);                   // back, checked path by path
#pragma once

#include <cstdint>
#include <iosfwd>
#include <map>
#include <vector>

#include "nnx/error.hpp"
#include "nnx/filter.hpp"
#include "nnx/path.hpp"
#include "nnx/variable.hpp"

namespace nnx {

class PureDict;  // nnx/pure_dict.hpp: a State viewed as nested maps of Arrays

class State {
 public:
  using Map = std::map<Path, Variable>;
  using const_iterator = Map::const_iterator;
  using iterator = Map::iterator;

  State() = default;
  explicit State(Map variables) : variables_(std::move(variables)) {}

  std::size_t size() const { return variables_.size(); }
  bool empty() const { return variables_.empty(); }
  const_iterator begin() const { return variables_.begin(); }
  const_iterator end() const { return variables_.end(); }
  iterator begin() { return variables_.begin(); }
  iterator end() { return variables_.end(); }
  const Map& variables() const { return variables_; }

  bool contains(const Path& path) const { return variables_.count(path) != 0; }
  // Throws nnx::Error naming the path and the nearest paths that exist.
  const Variable& at(const Path& path) const;
  Variable& at(const Path& path);
  const Variable& at(const char* path) const { return at(Path::parse(path)); }
  Variable& at(const char* path) { return at(Path::parse(path)); }
  void set(const Path& path, Variable variable) {
    if (variables_.insert_or_assign(path, std::move(variable)).second) version_.renew();
  }
  bool erase(const Path& path) {
    const bool erased = variables_.erase(path) != 0;
    if (erased) version_.renew();
    return erased;
  }
  // Changes whenever a path is added or removed, or the State is constructed, copied, moved or
  // assigned: while it stays the same, the Variable objects (and their addresses) and paths stay
  // the same. The Optimizer keys its cached slot pointers on it.
  std::uint64_t structure_version() const { return version_.value(); }

  // Nested view: the variables below `prefix`, with `prefix` removed from their paths.
  State subtree(const Path& prefix) const;
  // The distinct keys directly below `prefix` (the children of that node of the tree).
  std::vector<PathKey> children(const Path& prefix = {}) const;
  // A variable at `prefix` or below it: that node of the tree exists.
  bool has_subtree(const Path& prefix) const;
  // Removes the variable at `prefix` and every variable below it; returns how many.
  std::size_t erase_subtree(const Path& prefix);

  State filter(const Filter& filter) const;
  // One State per filter, each variable in the first filter that matches; filters must be exhaustive
  // (nnx::Everything{} allowed only last), else a StructureError lists the leftover paths.
  std::vector<State> split(const std::vector<Filter>& filters) const;
  // Union of states; a path present in several is an error listing every such path.
  static State merge(const std::vector<State>& states);
  // The variables of this State whose paths are not in `other`.
  State difference(const State& other) const;

  // This State viewed as nested maps (a copy; Arrays shared copy-on-write). nnx/pure_dict.hpp.
  PureDict to_pure_dict() const;
  // Replaces every value by the Array at the same path of `dict`, keeping this State's kinds and
  // metadata. Every path of this State must be in `dict` and the reverse; shapes must match;
  // dtypes must match unless `cast_dtypes`. All differences are reported in one StructureError.
  void replace_by_pure_dict(const PureDict& dict, bool cast_dtypes = false);
  // The dict's tree as a State, with the kinds and metadata its leaves carry (as restored, or
  // Param for leaves made from bare Arrays).
  static State from_pure_dict(const PureDict& dict);
  // The same, every variable of kind `kind`.
  static State from_pure_dict(const PureDict& dict, Kind kind);

  std::int64_t num_elements() const;  // sum of numel over all variables
  std::size_t num_bytes() const;      // sum of nbytes (abstract arrays count their would-be size)
  bool has_abstract() const;          // some value is abstract
  State as_abstract() const;          // the same structure, every value abstract

 private:
  // A number never handed out before, renewed by every copy, move and assignment.
  class Version {
   public:
    Version() : value_(next()) {}
    Version(const Version&) : value_(next()) {}
    Version& operator=(const Version&) {
      renew();
      return *this;
    }
    void renew() { value_ = next(); }
    std::uint64_t value() const { return value_; }

   private:
    static std::uint64_t next();
    std::uint64_t value_;
  };
  Map variables_;
  Version version_;
};

struct CompareOptions {
  bool kinds = true;
  bool shapes = true;
  bool dtypes = true;
  bool missing = true;     // report paths of `expected` absent from `found`
  bool unexpected = true;  // report paths of `found` absent from `expected`
};

// Every way `found` differs from `expected`, in sorted path order.
std::vector<Difference> compare_structure(const State& expected, const State& found,
                                          const CompareOptions& options = {});

// Same paths, kinds, metadata and bitwise-equal values.
bool state_equal(const State& a, const State& b);

// "512 B", "4.0 KB", "1.5 MB" (powers of 1024), as the printer and nnx-ckpt show sizes.
std::string format_bytes(std::uint64_t bytes);

// A tree like nnx.display: paths, kinds, dtypes, shapes, element counts and bytes, with totals
// per kind in the header.
std::ostream& operator<<(std::ostream& os, const State& state);

}  // namespace nnx
