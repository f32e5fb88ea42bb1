// nnx/module.hpp — Modules: plain C++ objects whose fields nnx can walk and rebuild.
//
// A Module lists its fields once with NNX_FIELDS; nnx then finds every Variable, child module,
// sequence of children and static attribute by name, as Flax NNX does by walking __dict__:
//
//   struct Block : nnx::Module {
//     nnx::Linear fc1, fc2;
//     nnx::Dropout drop;
//     std::int64_t width = 0;                   // a static attribute: recorded in the GraphDef
//     Block() = default;                        // merge builds a Block from its GraphDef (may be private)
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
//   arithmetic types, enums, std::string            -> static attributes (GraphDef records their text)
//
// merge (and clone) build a module from its GraphDef, which is pure data: they default-construct
// the recorded C++ type, then set every declared field — attributes parsed back from their text,
// containers sized, optionals engaged, shared children created once and linked. So a Module needs
// a default constructor (private is fine with `friend nnx::Access;`), and **a field that is not
// listed in NNX_FIELDS is not carried**: after merge it holds whatever the default constructor put
// there. Keep everything a module needs to run in declared fields. A Variable that is left out yet
// used is caught at the first value_and_grad / train_step / predict / evaluate (FieldCheck below).
//
// Copying: the C++ copy of a Module copies its Variables (values copy-on-write, see array.hpp) and
// its by-value children, but a std::shared_ptr child stays shared with the original. nnx::clone
// makes an independent copy (merge of split) that keeps the internal sharing.
#pragma once

#include <charconv>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeinfo>
#include <vector>

#include "nnx/array.hpp"
#include "nnx/path.hpp"
#include "nnx/state.hpp"
#include "nnx/variable.hpp"

namespace nnx {

class Module;
using ModuleFactory = std::shared_ptr<Module> (*)();

// Constructs modules for merge. Befriend it to keep a module's default constructor private.
struct Access {
  template <class M> static constexpr bool default_constructible() { return requires { new M(); }; }
  template <class M> static std::shared_ptr<Module> make() {
    static_assert(default_constructible<M>(),
                  "nnx: a Module needs a default constructor so that merge can build it from a GraphDef; "
                  "add `M() = default;` (it may be private with `friend nnx::Access;`)");
    return std::shared_ptr<M>(new M());
  }
};

// A static attribute seen through a type-erased reference: its text, and parsing it back.
class Attribute {
 public:
  virtual ~Attribute() = default;
  virtual std::string text() const = 0;
  virtual void assign(std::string_view text) = 0;  // throws nnx::Error when the text does not parse
};

// Set while merge builds a module from a GraphDef: containers, optionals and shared children ask
// it for their shape before they are visited. Walks that only read have none.
class Builder {
 public:
  virtual ~Builder() = default;
  // The keys below field `key` of the module being built (below the module itself when null).
  virtual std::vector<PathKey> keys(const PathKey* key) = 0;
  virtual bool has(const PathKey& key) = 0;                          // is this optional field set?
  virtual std::shared_ptr<Module> shared(const PathKey& key) = 0;    // what a shared_ptr field holds
};

enum class ContainerKind { list, dict };

// Receives the fields of a Module. Graph traversals (split, merge, train, ...) implement the hooks;
// Module::visit calls operator() once per field.
class Visitor {
 public:
  virtual ~Visitor() = default;
  virtual void on_variable(const PathKey& key, Variable& variable) = 0;
  virtual void on_module(const PathKey& key, Module& child) = 0;
  virtual void on_shared(const PathKey& key, Module& child) = 0;  // a std::shared_ptr field, set
  virtual void on_attribute(const PathKey& key, Attribute& attribute) = 0;
  virtual void on_state(const PathKey& key, State& state) = 0;
  virtual void begin_container(const PathKey& key, ContainerKind kind) = 0;
  virtual void end_container() = 0;
  virtual Builder* builder() { return nullptr; }

  template <class T> void operator()(const PathKey& key, T& field);
  // The entries of `entries` as fields of the module itself (Rngs: one field per stream).
  template <class T> void fields(std::map<std::string, T>& entries);
};

class Module {
 public:
  virtual ~Module() = default;

  // Calls v(name, field) for every field. NNX_FIELDS writes it.
  virtual void visit(Visitor& v) = 0;
  // Makes a default-constructed object of this module's dynamic type. NNX_FIELDS writes it.
  virtual ModuleFactory factory() const = 0;
  // The type's name, as GraphDef shows it; the demangled C++ name unless overridden.
  virtual std::string type_name() const;
  // sizeof the dynamic type (NNX_FIELDS writes it): where this object's by-value fields lie, so
  // that a Variable inside it but missing from NNX_FIELDS can be noticed (FieldCheck below).
  virtual std::size_t object_size() const { return sizeof(Module); }

  // Training mode of this module and of every module below it (Dropout, BatchNorm read it).
  void train() { set_training(true); }
  void eval() { set_training(false); }
  void set_training(bool training);
  bool is_training() const { return training_; }

 private:
  friend struct GraphAccess;  // merge restores the mode recorded in the GraphDef
  bool training_ = true;
};

namespace detail {
std::vector<std::string> split_field_names(std::string_view names);  // "a, b,c" -> {a, b, c}
std::string demangle(const std::type_info& type);  // the C++ name of a type
std::string attribute_string(double value);  // shortest text that reads back exactly
[[noreturn]] void bad_attribute(std::string_view text, const char* type);
[[noreturn]] void wrong_shared_type(const PathKey& key, const Module& found, const std::type_info& field);

struct GraphWalk;

// Catches a field left out of NNX_FIELDS where it hurts: while a FieldCheck is alive on a thread
// (value_and_grad, train_step, predict and evaluate make one), every op input that is the `value`
// of a Variable lying inside the object of a module of the graph (a by-value field, at any depth)
// must be one of the graph's Variables; otherwise the op throws an nnx::Error naming the module's
// type, the Variable's kind and shape, the fields NNX_FIELDS lists, and the fix. Such a Variable
// would be silently never trained, saved, restored, or carried by merge and clone.
// Not seen: a Variable held through an unlisted std::vector / std::shared_ptr (it lives on the
// heap, outside every module object), and a copy of a Variable's value taken before the op.
struct FieldLayout;  // graph_walk.hpp: the graph's Variables and module objects, as FieldCheck reads them
class FieldCheck {
 public:
  // `caller` starts the message: "value_and_grad", "predict", ...; `layout` outlives the check.
  FieldCheck(const FieldLayout& layout, const char* caller);
  ~FieldCheck();
  FieldCheck(const FieldCheck&) = delete;
  FieldCheck& operator=(const FieldCheck&) = delete;
  // Ops call this for each input (tape.cpp, record); a Variable's value not in the graph throws.
  void check(const Variable& owner, const char* op) const;

 private:
  const FieldLayout* layout_;
  const char* caller_;
  const FieldCheck* previous_;
};

template <class T> struct is_shared_ptr : std::false_type {};
template <class T> struct is_shared_ptr<std::shared_ptr<T>> : std::true_type {};
template <class T> struct is_vector : std::false_type {};
template <class T, class A> struct is_vector<std::vector<T, A>> : std::true_type {};
template <class T> struct is_string_map : std::false_type {};
template <class T, class C, class A> struct is_string_map<std::map<std::string, T, C, A>> : std::true_type {};
template <class T> struct is_optional : std::false_type {};
template <class T> struct is_optional<std::optional<T>> : std::true_type {};
template <class> inline constexpr bool unsupported_field = false;

// Types with their own attribute text: nnx_attribute_text(T) and nnx_attribute_parse(text, T&),
// found by argument-dependent lookup (Activation prints as "relu", not 1).
template <class T>
concept has_attribute_text = requires(const T& v, T& out, std::string_view s) {
  { nnx_attribute_text(v) } -> std::convertible_to<std::string_view>;
  nnx_attribute_parse(s, out);
};
template <class T>
concept attribute_type = has_attribute_text<T> || std::is_arithmetic_v<T> || std::is_enum_v<T> ||
                         std::is_same_v<T, std::string>;

template <class T> class AttributeOf final : public Attribute {
 public:
  explicit AttributeOf(T& field) : field_(field) {}
  std::string text() const override {
    if constexpr (has_attribute_text<T>) return std::string(nnx_attribute_text(field_));
    else if constexpr (std::is_same_v<T, bool>) return field_ ? "true" : "false";
    else if constexpr (std::is_enum_v<T>) return std::to_string(static_cast<std::int64_t>(field_));
    else if constexpr (std::is_floating_point_v<T>) return attribute_string(static_cast<double>(field_));
    else if constexpr (std::is_arithmetic_v<T>) return std::to_string(field_);
    else return field_;
  }
  void assign(std::string_view s) override {
    if constexpr (has_attribute_text<T>) {
      nnx_attribute_parse(s, field_);
    } else if constexpr (std::is_same_v<T, bool>) {
      if (s != "true" && s != "false") bad_attribute(s, "bool");
      field_ = s == "true";
    } else if constexpr (std::is_enum_v<T>) {
      std::int64_t v = 0;
      parse(s, v, "enum");
      field_ = static_cast<T>(v);
    } else if constexpr (std::is_arithmetic_v<T>) {
      parse(s, field_, typeid(T).name());
    } else {
      field_ = std::string(s);
    }
  }

 private:
  template <class N> static void parse(std::string_view s, N& out, const char* type) {
    const auto r = std::from_chars(s.data(), s.data() + s.size(), out);
    if (r.ec != std::errc() || r.ptr != s.data() + s.size()) bad_attribute(s, type);
  }
  T& field_;
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
    on_state(key, field);
  } else if constexpr (detail::is_shared_ptr<U>::value) {
    using E = typename U::element_type;
    static_assert(std::derived_from<E, Module>, "nnx: a std::shared_ptr field must point to a Module");
    if (Builder* b = builder()) {
      std::shared_ptr<Module> m = b->shared(key);
      field = std::dynamic_pointer_cast<E>(m);
      if (m && !field) detail::wrong_shared_type(key, *m, typeid(E));
    }
    if (field) on_shared(key, *field);
  } else if constexpr (detail::is_vector<U>::value) {
    if (Builder* b = builder()) field.resize(b->keys(&key).size());
    begin_container(key, ContainerKind::list);
    for (std::size_t i = 0; i < field.size(); ++i) (*this)(PathKey(i), field[i]);
    end_container();
  } else if constexpr (detail::is_string_map<U>::value) {
    if (Builder* b = builder()) {
      field.clear();
      for (const PathKey& k : b->keys(&key)) field[k.str()];
    }
    begin_container(key, ContainerKind::dict);
    for (auto& [name, value] : field) (*this)(PathKey(name), value);
    end_container();
  } else if constexpr (detail::is_optional<U>::value) {
    if (Builder* b = builder()) {
      if (!b->has(key)) field.reset();
      else if (!field) field.emplace();
    }
    if (field) (*this)(key, *field);
  } else if constexpr (detail::attribute_type<U>) {
    detail::AttributeOf<U> attribute(field);
    on_attribute(key, attribute);
  } else {
    static_assert(detail::unsupported_field<U>,
                  "nnx: this field type is not a Variable, Module, shared_ptr<Module>, vector, map, "
                  "optional, State or static attribute; leave it out of NNX_FIELDS");
  }
}

template <class T> void Visitor::fields(std::map<std::string, T>& entries) {
  if (Builder* b = builder()) {
    entries.clear();
    for (const PathKey& k : b->keys(nullptr)) entries[k.str()];
  }
  for (auto& [name, value] : entries) (*this)(PathKey(name), value);
}

}  // namespace nnx

// Writes visit() and factory() for the enclosing Module, listing its fields by name.
#define NNX_FIELDS(...)                                                                        \
  void visit(::nnx::Visitor& nnx_visitor_) override {                                          \
    static const std::vector<std::string> nnx_names_ = ::nnx::detail::split_field_names(#__VA_ARGS__); \
    ::nnx::detail::visit_fields(nnx_visitor_, nnx_names_, __VA_ARGS__);                        \
  }                                                                                            \
  NNX_MODULE_FACTORY()

// For modules that write visit() by hand (or have no fields): the factory() merge needs.
#define NNX_MODULE_FACTORY()                                                                   \
  ::nnx::ModuleFactory factory() const override {                                              \
    return &::nnx::Access::make<std::remove_cvref_t<decltype(*this)>>;                         \
  }                                                                                            \
  std::size_t object_size() const override { return sizeof(std::remove_cvref_t<decltype(*this)>); }
