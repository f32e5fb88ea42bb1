// FieldCheck (module.hpp): a Variable inside a module's object that NNX_FIELDS does not reach.
#include <algorithm>
#include <cstdint>
#include <functional>

#include "autodiff/tape.hpp"
#include "graph_walk.hpp"
#include "nnx/error.hpp"
#include "nnx/module.hpp"

namespace nnx::detail {

namespace {
// The names a module's NNX_FIELDS lists (its own fields, not those of its children).
class FieldNames final : public Visitor {
 public:
  std::vector<std::string> names;
  void on_variable(const PathKey& key, Variable&) override { add(key); }
  void on_module(const PathKey& key, Module&) override { add(key); }
  void on_shared(const PathKey& key, Module&) override { add(key); }
  void on_attribute(const PathKey& key, Attribute&) override { add(key); }
  void on_state(const PathKey& key, State&) override { add(key); }
  void begin_container(const PathKey& key, ContainerKind) override {
    add(key);
    ++depth_;
  }
  void end_container() override { --depth_; }

 private:
  void add(const PathKey& key) {
    if (depth_ == 0 && std::find(names.begin(), names.end(), key.str()) == names.end()) names.push_back(key.str());
  }
  int depth_ = 0;
};

std::string listed_fields(const Module& m) {
  FieldNames v;
  const_cast<Module&>(m).visit(v);  // reads only
  std::string out;
  for (const std::string& n : v.names) out += (out.empty() ? "" : ", ") + n;
  return out.empty() ? "nothing" : out;
}
}  // namespace

FieldLayout FieldLayout::of(const GraphWalk& walk) {
  FieldLayout layout;
  layout.variables.reserve(walk.variables.size());
  for (const auto& [path, var] : walk.variables) layout.variables.push_back(var);
  std::sort(layout.variables.begin(), layout.variables.end(), std::less<const Variable*>());
  layout.objects.reserve(walk.modules.size());
  for (const Module* m : walk.modules) {
    const auto begin = reinterpret_cast<std::uintptr_t>(dynamic_cast<const void*>(m));  // the complete object
    layout.objects.push_back({begin, begin + m->object_size(), m});
  }
  return layout;
}

FieldCheck::FieldCheck(const FieldLayout& layout, const char* caller)
    : layout_(&layout), caller_(caller), previous_(exchange_field_check(this)) {}

FieldCheck::~FieldCheck() { exchange_field_check(previous_); }

void FieldCheck::check(const Variable& owner, const char* op) const {
  const auto at = reinterpret_cast<std::uintptr_t>(&owner);  // addresses as integers: comparable across objects
  const FieldLayout::Object* inside = nullptr;  // the innermost module object holding the Variable
  for (const FieldLayout::Object& o : layout_->objects)
    if (at >= o.begin && at < o.end && (!inside || o.end - o.begin < inside->end - inside->begin)) inside = &o;
  if (!inside || std::binary_search(layout_->variables.begin(), layout_->variables.end(), &owner, std::less<const Variable*>()))
    return;  // another object's Variable (a frozen target network, say), or one of the graph's
  const std::string type = inside->module->type_name();
  throw Error(std::string(caller_) + ": a " + owner.kind().name() + " " + owner.value.shape_dtype().str() + " inside a " + type +
              " object (at byte " + std::to_string(at - inside->begin) + " of " +
              std::to_string(inside->end - inside->begin) + ") is an input of '" + op +
              "', but it is not in " + type + "'s State: the "
              "field holding it is not listed in NNX_FIELDS, so it is never trained, saved, restored, or carried by "
              "merge and clone. " + type + "'s NNX_FIELDS lists: " + listed_fields(*inside->module) +
              ". Add the missing field (the Variable, or the layer that holds it) to NNX_FIELDS(...) in " + type);
}

}  // namespace nnx::detail
