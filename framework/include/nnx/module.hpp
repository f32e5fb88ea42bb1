// nnx/module.hpp — Modules: plain C++ objects whose fields nnx can walk.
//
// A Module lists its fields once with NNX_FIELDS; nnx then finds every Variable, child module,
// sequence of children and static attribute by name, as Flax NNX does by walking __dict__:
//
//   struct Block : nnx::Module {
//     nnx::Linear fc1, fc2;
//     nnx::Dropout drop;
//     std::int64_t width;                       // a static attribute: recorded in the GraphDef
//     Block(std::int64_t d, nnx::Rngs& rngs) : fc1(d, d, rngs), fc2(d, d, rngs), drop(0.1, rngs), width(d) {}
//     nnx::Array operator()(const nnx::Array& x) { return fc2(drop(nnx::relu(fc1(x)))); }
//     NNX_FIELDS(fc1, fc2, drop, width)
//   };
//
// Field types nnx understands:
//   Variable and its kinds (Param, BatchStat, ...)  -> a leaf at `name`
//   any Module held by value                        -> a child at `name/...`
//   std::shared_ptr<M> (M a Module)                 -> a child that may be shared by several parents:
//                                                      stored once in the State, at its first path in
//                                                      sorted depth-first order; merge restores sharing
//   std::vector<T>                                  -> children at `name/0`, `name/1`, ... (integer keys)
//   std::map<std::string, T>                        -> children at `name/<key>`
//   std::optional<T>                                -> like T when set, absent otherwise
//   State                                           -> its variables at `name/<path>` (Optimizer's opt_state)
//   arithmetic types, enums, std::string            -> static attributes (GraphDef records them)
//
// Copying: the C++ copy of a Module copies its Variables (values copy-on-write, see array.hpp) and
// its by-value children, but a std::shared_ptr child stays shared with the original. nnx::clone
// makes a fully independent copy that keeps the internal sharing.
#pragma once

#include <concepts>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "nnx/array.hpp"
#include "nnx/path.hpp"
#include "nnx/state.hpp"
#include "nnx/variable.hpp"

namespace nnx {

class Module;

// A std::shared_ptr<M> field seen through the type-erased interface the graph functions need.
class SharedSlot {
 public:
  virtual ~SharedSlot() = default;
  virtual Module* get() const = 0;
  virtual std::shared_ptr<Module> share() const = 0;
  virtual void set(std::shared_ptr<Module> module) = 0;  // module's dynamic type must fit the field
};

// Receives the fields of a Module. Graph traversals (split, merge, train, ...) implement the hooks;
// Module::visit calls operator() once per field.
class Visitor {
 public:
  virtual ~Visitor() = default;
  virtual void on_variable(const PathKey& key, Variable& variable) = 0;
  virtual void on_module(const PathKey& key, Module& child) = 0;
  virtual void on_shared(const PathKey& key, SharedSlot& slot) = 0;
  virtual void on_attribute(const PathKey& key, std::string value) = 0;
  virtual void begin_container(const PathKey& key, std::string_view kind) = 0;  // "list" or "dict"
  virtual void end_container() = 0;

  template <class T> void operator()(const PathKey& key, T& field);

  // A State field: its variables appear below `key` at their paths (containers for the keys between).
  void visit_state(const PathKey& key, State& state);
};

class Module {
 public:
  virtual ~Module() = default;

  // Calls v(name, field) for every field. NNX_FIELDS writes it.
  virtual void visit(Visitor& v) = 0;
  // A new object of this module's dynamic type, copied from this one (C++ copy). NNX_FIELDS writes it.
  virtual std::shared_ptr<Module> clone_object() const = 0;
  // The type's name, as GraphDef shows it; the demangled C++ name unless overridden.
  virtual std::string type_name() const;

  // Training mode of this module and of every module below it (Dropout, BatchNorm read it).
  void train() { set_training(true); }
  void eval() { set_training(false); }
  void set_training(bool training);
  bool is_training() const { return training_; }

 private:
  bool training_ = true;
};

namespace detail {
std::vector<std::string> split_field_names(std::string_view names);  // "a, b,c" -> {a, b, c}
std::string attribute_string(double value);
std::string attribute_string(std::int64_t value);
std::string attribute_string(std::uint64_t value);

template <class T> struct is_shared_ptr : std::false_type {};
template <class T> struct is_shared_ptr<std::shared_ptr<T>> : std::true_type {};
template <class T> struct is_vector : std::false_type {};
template <class T, class A> struct is_vector<std::vector<T, A>> : std::true_type {};
template <class T> struct is_string_map : std::false_type {};
template <class T, class C, class A> struct is_string_map<std::map<std::string, T, C, A>> : std::true_type {};
template <class T> struct is_optional : std::false_type {};
template <class T> struct is_optional<std::optional<T>> : std::true_type {};
template <class> inline constexpr bool unsupported_field = false;

template <class M> class SharedSlotOf final : public SharedSlot {
 public:
  explicit SharedSlotOf(std::shared_ptr<M>& field) : field_(field) {}
  Module* get() const override { return field_.get(); }
  std::shared_ptr<Module> share() const override { return field_; }
  void set(std::shared_ptr<Module> module) override { field_ = std::dynamic_pointer_cast<M>(module); }

 private:
  std::shared_ptr<M>& field_;
};

template <class... Fields>
void visit_fields(Visitor& v, const std::vector<std::string>& names, Fields&... fields) {
  std::size_t i = 0;
  (v(PathKey(names[i++]), fields), ...);
}
}  // namespace detail

template <class T> void Visitor::operator()(const PathKey& key, T& field) {
  using U = std::remove_cv_t<T>;
  if constexpr (std::derived_from<U, Variable>) {
    on_variable(key, field);
  } else if constexpr (std::derived_from<U, Module>) {
    on_module(key, field);
  } else if constexpr (std::is_same_v<U, State>) {
    visit_state(key, field);
  } else if constexpr (detail::is_shared_ptr<U>::value) {
    static_assert(std::derived_from<typename U::element_type, Module>,
                  "nnx: a std::shared_ptr field must point to a Module");
    if (field) {
      detail::SharedSlotOf<typename U::element_type> slot(field);
      on_shared(key, slot);
    }
  } else if constexpr (detail::is_vector<U>::value) {
    begin_container(key, "list");
    for (std::size_t i = 0; i < field.size(); ++i) (*this)(PathKey(i), field[i]);
    end_container();
  } else if constexpr (detail::is_string_map<U>::value) {
    begin_container(key, "dict");
    for (auto& [name, value] : field) (*this)(PathKey(name), value);
    end_container();
  } else if constexpr (detail::is_optional<U>::value) {
    if (field) (*this)(key, *field);
  } else if constexpr (std::is_same_v<U, bool>) {
    on_attribute(key, field ? "true" : "false");
  } else if constexpr (std::is_enum_v<U>) {
    on_attribute(key, detail::attribute_string(static_cast<std::int64_t>(field)));
  } else if constexpr (std::is_floating_point_v<U>) {
    on_attribute(key, detail::attribute_string(static_cast<double>(field)));
  } else if constexpr (std::is_integral_v<U> && std::is_signed_v<U>) {
    on_attribute(key, detail::attribute_string(static_cast<std::int64_t>(field)));
  } else if constexpr (std::is_integral_v<U>) {
    on_attribute(key, detail::attribute_string(static_cast<std::uint64_t>(field)));
  } else if constexpr (std::is_convertible_v<const U&, std::string>) {
    on_attribute(key, std::string(field));
  } else {
    static_assert(detail::unsupported_field<U>,
                  "nnx: this field type is not a Variable, Module, shared_ptr<Module>, vector, map, "
                  "optional or static attribute; leave it out of NNX_FIELDS");
  }
}

}  // namespace nnx

// Writes visit() and clone_object() for the enclosing Module, listing its fields by name.
#define NNX_FIELDS(...)                                                                        \
  void visit(::nnx::Visitor& nnx_visitor_) override {                                          \
    static const std::vector<std::string> nnx_names_ = ::nnx::detail::split_field_names(#__VA_ARGS__); \
    ::nnx::detail::visit_fields(nnx_visitor_, nnx_names_, __VA_ARGS__);                        \
  }                                                                                            \
  NNX_CLONE_OBJECT()

// For modules that write visit() by hand (or have no fields): the clone_object() nnx needs.
#define NNX_CLONE_OBJECT()                                                                     \
  std::shared_ptr<::nnx::Module> clone_object() const override {                               \
    return std::make_shared<std::remove_cvref_t<decltype(*this)>>(*this);                      \
  }
