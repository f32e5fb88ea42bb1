#include "graph_walk.hpp"

#include <algorithm>
#include <unordered_map>

#include "nnx/error.hpp"

namespace nnx::detail {

namespace {

struct Field {
  enum class Type { variable, module, shared, attribute, container };
  Field(PathKey k, Type t, Variable* v = nullptr, Module* m = nullptr, std::string s = {})
      : key(std::move(k)), type(t), variable(v), module(m), text(std::move(s)) {}
  PathKey key;
  Type type;
  Variable* variable;
  Module* module;
  std::string text;  // attribute value, or container kind
  std::vector<Field> children;
};

// Records the fields of one module (containers included, child modules not entered).
class Collector final : public Visitor {
 public:
  std::vector<Field> fields;

  void on_variable(const PathKey& key, Variable& v) override { add({key, Field::Type::variable, &v}); }
  void on_module(const PathKey& key, Module& m) override { add({key, Field::Type::module, nullptr, &m}); }
  void on_shared(const PathKey& key, SharedSlot& slot) override {
    add({key, Field::Type::shared, nullptr, slot.get()});
  }
  void on_attribute(const PathKey& key, std::string value) override {
    add({key, Field::Type::attribute, nullptr, nullptr, std::move(value)});
  }
  void begin_container(const PathKey& key, std::string_view kind) override {
    add({key, Field::Type::container, nullptr, nullptr, std::string(kind)});
    stack_.push_back(&stack_.back()->back().children);
  }
  void end_container() override { stack_.pop_back(); }

 private:
  void add(Field f) { stack_.back()->push_back(std::move(f)); }
  std::vector<std::vector<Field>*> stack_{&fields};
};

void sort_fields(std::vector<Field>& fields, const Module& where) {
  std::stable_sort(fields.begin(), fields.end(), [](const Field& a, const Field& b) { return a.key < b.key; });
  for (std::size_t i = 1; i < fields.size(); ++i)
    if (fields[i].key == fields[i - 1].key)
      throw Error("module " + where.type_name() + ": field '" + fields[i].key.str() +
                  "' is listed twice; every field needs its own name in NNX_FIELDS");
  for (auto& f : fields) sort_fields(f.children, where);
}

std::vector<Field> collect(Module& m) {
  Collector c;
  m.visit(c);
  sort_fields(c.fields, m);
  return std::move(c.fields);
}

class Walker {
 public:
  explicit Walker(bool describe) : describe_(describe) {}
  GraphWalk result;

  void walk_root(Module& root) {
    seen_.emplace_back(&root, Path{});
    note(GraphNode::What::module, root.type_name());
    result.modules.push_back(&root);
    walk_module(root);
  }

 private:
  // `path_` is the path of the field being visited: one Path, pushed and popped, copied only
  // where a variable or node records it.
  void walk_module(Module& m) {
    for (Field& f : collect(m)) {
      path_.push_back(f.key);
      walk_field(f);
      path_.pop_back();
    }
  }

  void note(GraphNode::What what, std::string value) {
    if (describe_) result.nodes.push_back({path_, what, std::move(value)});
  }

  void walk_field(Field& f) {
    switch (f.type) {
      case Field::Type::variable:
        if (describe_) note(GraphNode::What::variable, f.variable->kind().name());
        result.variables.emplace_back(path_, f.variable);
        return;
      case Field::Type::attribute:
        note(GraphNode::What::attribute, std::move(f.text));
        return;
      case Field::Type::container:
        note(GraphNode::What::container, std::move(f.text));
        for (Field& c : f.children) {
          path_.push_back(c.key);
          walk_field(c);
          path_.pop_back();
        }
        return;
      case Field::Type::module:
      case Field::Type::shared: {
        // Only shared_ptr fields can reach a module twice; by-value children are unique.
        if (f.type == Field::Type::shared) {
          auto it = std::find_if(seen_.begin(), seen_.end(), [&](const auto& e) { return e.first == f.module; });
          if (it != seen_.end()) {
            note(GraphNode::What::shared, it->second.str());
            return;
          }
          seen_.emplace_back(f.module, path_);
        }
        if (describe_) note(GraphNode::What::module, f.module->type_name());
        result.modules.push_back(f.module);
        walk_module(*f.module);
        return;
      }
    }
  }

  bool describe_;
  Path path_;
  std::vector<std::pair<const Module*, Path>> seen_;
};

// Gives every shared_ptr child below a module its own copy, one copy per original module.
class DeepCopier final : public Visitor {
 public:
  void on_variable(const PathKey&, Variable&) override {}
  void on_attribute(const PathKey&, std::string) override {}
  void begin_container(const PathKey&, std::string_view) override {}
  void end_container() override {}
  void on_module(const PathKey&, Module& m) override { m.visit(*this); }
  void on_shared(const PathKey&, SharedSlot& slot) override {
    Module* original = slot.get();
    if (auto it = copies_.find(original); it != copies_.end()) {
      slot.set(it->second);
      return;
    }
    std::shared_ptr<Module> copy = original->clone_object();
    copies_.emplace(original, copy);
    slot.set(copy);
    copy->visit(*this);
  }

 private:
  std::unordered_map<const Module*, std::shared_ptr<Module>> copies_;
};

}  // namespace

GraphWalk walk_graph(Module& root, bool describe) {
  Walker w(describe);
  w.walk_root(root);
  return std::move(w.result);
}

void deep_copy_children(Module& root) {
  DeepCopier copier;
  root.visit(copier);
}

}  // namespace nnx::detail
