// nnx/variable.hpp — Variables: an Array tagged with a kind and string metadata.
//
// Modules keep their state in Variables. The kind says what the state is for (Param is trained,
// BatchStat is updated in the forward pass, RngKey/RngCount are random streams, ...); filters
// select by kind, and checkpoints store the kind's name.
//
//   nnx::Param kernel(nnx::Array::zeros({4, 2}, nnx::DType::float32), {{"sharding", "none"}});
//   kernel.kind().name();              // "Param"
//   kernel.value.mutable_data<float>();
//
// Kinds form a hierarchy: a filter for a kind matches its descendants (as isinstance does in NNX).
// Users define their own kinds with one line:
//
//   NNX_VARIABLE_KIND(LoraParam, nnx::Param, "LoraParam");   // a Param that filters can tell apart
//
// The name string is what checkpoints record; keep it stable. Defining one name twice with
// different parents throws.
#pragma once

#include <iosfwd>
#include <map>
#include <string>
#include <string_view>

#include "nnx/array.hpp"

namespace nnx {

using Metadata = std::map<std::string, std::string>;

// An interned variable kind. Cheap to copy and compare (pointer identity).
class Kind {
 public:
  // Registers (or returns the registered) kind `name` whose parent is `parent`.
  static Kind define(std::string_view name, Kind parent);
  // The kind registered under `name`. Names nobody defined in this process (say, a checkpoint
  // written by a program with a custom kind) are registered as children of Variable.
  static Kind from_name(std::string_view name);
  static Kind root();  // "Variable", the ancestor of every kind

  const std::string& name() const;
  Kind parent() const;      // root's parent is root
  bool is_a(Kind ancestor) const;  // this kind or a descendant of it

  bool operator==(const Kind&) const = default;

  struct Info;  // registry entry; defined in variable.cpp

 private:
  explicit Kind(const Info* info) : info_(info) {}
  const Info* info_;
};

std::ostream& operator<<(std::ostream& os, Kind kind);

class Variable {
 public:
  static Kind static_kind() { return Kind::root(); }
  Variable() : kind_(Kind::root()) { this->value.owner_.set(this); }
  Variable(Kind kind, Array value, Metadata metadata = {})
      : value(std::move(value)), metadata(std::move(metadata)), kind_(kind) {
    this->value.owner_.set(this);
  }
  // `value` knows its Variable (Array::owner); copies and moves point it at the new Variable.
  Variable(const Variable& other) : value(other.value), metadata(other.metadata), kind_(other.kind_) {
    value.owner_.set(this);
  }
  Variable(Variable&& other) noexcept
      : value(std::move(other.value)), metadata(std::move(other.metadata)), kind_(other.kind_) {
    value.owner_.set(this);
  }
  Variable& operator=(const Variable&) = default;  // `value` stays this Variable's
  Variable& operator=(Variable&&) noexcept = default;

  Kind kind() const { return kind_; }
  // Metadata lookup; `fallback` when absent.
  std::string meta(const std::string& key, const std::string& fallback = {}) const;

  Array value;        // the state; abstract inside eval_shape and in restore targets
  Metadata metadata;  // free-form strings; split, merge and checkpoints keep them

 private:
  Kind kind_;
};

// Defines a Variable subclass `Name` of kind `disk_name` deriving from `Parent`.
#define NNX_VARIABLE_KIND(Name, Parent, disk_name)                                                   \
  class Name : public Parent {                                                                       \
   public:                                                                                           \
    static ::nnx::Kind static_kind() {                                                               \
      static const ::nnx::Kind kind = ::nnx::Kind::define(disk_name, Parent::static_kind());         \
      return kind;                                                                                   \
    }                                                                                                \
    Name() : Parent(static_kind(), ::nnx::Array(), {}) {}                                            \
    explicit Name(::nnx::Array value, ::nnx::Metadata metadata = {})                                 \
        : Parent(static_kind(), std::move(value), std::move(metadata)) {}                            \
                                                                                                     \
   protected:                                                                                        \
    Name(::nnx::Kind kind, ::nnx::Array value, ::nnx::Metadata metadata)                             \
        : Parent(kind, std::move(value), std::move(metadata)) {}                                     \
  }

// The kinds of Flax NNX. RngKey and RngCount carry the stream name in metadata "tag".
NNX_VARIABLE_KIND(Param, Variable, "Param");
NNX_VARIABLE_KIND(BatchStat, Variable, "BatchStat");
NNX_VARIABLE_KIND(Cache, Variable, "Cache");
NNX_VARIABLE_KIND(Intermediate, Variable, "Intermediate");
NNX_VARIABLE_KIND(RngState, Variable, "RngState");
NNX_VARIABLE_KIND(RngKey, RngState, "RngKey");
NNX_VARIABLE_KIND(RngCount, RngState, "RngCount");
NNX_VARIABLE_KIND(OptState, Variable, "OptState");

}  // namespace nnx
