#include "nnx/variable.hpp"

#include <atomic>
#include <memory>
#include <mutex>
#include <ostream>
#include <unordered_map>

#include "nnx/error.hpp"

namespace nnx {

struct Kind::Info {
  std::string name;
  const Info* parent;
};

namespace {
// Kinds live for the whole process: Info objects are never freed, so Kind can hold a raw pointer.
struct Registry {
  std::mutex mutex;
  std::unordered_map<std::string, std::unique_ptr<Kind::Info>> by_name;
};

Registry& registry() {
  static Registry* r = new Registry;  // leaked on purpose: kinds outlive static destructors
  return *r;
}
}  // namespace

Kind Kind::root() {
  static const Info* root = [] {
    auto& r = registry();
    std::lock_guard lock(r.mutex);
    auto info = std::make_unique<Info>(Info{"Variable", nullptr});
    info->parent = info.get();
    const Info* p = info.get();
    r.by_name.emplace("Variable", std::move(info));
    return p;
  }();
  return Kind(root);
}

Kind Kind::define(std::string_view name, Kind parent) {
  Kind::root();
  auto& r = registry();
  std::lock_guard lock(r.mutex);
  auto it = r.by_name.find(std::string(name));
  if (it != r.by_name.end()) {
    if (it->second->parent != parent.info_)
      throw Error("variable kind '" + std::string(name) + "' is already defined with parent '" +
                  it->second->parent->name + "', not '" + parent.name() +
                  "': kind names must be unique; pick another name");
    return Kind(it->second.get());
  }
  auto info = std::make_unique<Info>(Info{std::string(name), parent.info_});
  const Info* p = info.get();
  r.by_name.emplace(std::string(name), std::move(info));
  return Kind(p);
}

Kind Kind::from_name(std::string_view name) {
  Kind root = Kind::root();
  // The built-in kinds first, so a name read from a file never registers them with a wrong parent.
  static const bool builtins = [] {
    for (Kind k : {Param::static_kind(), BatchStat::static_kind(), Cache::static_kind(),
                   Intermediate::static_kind(), RngKey::static_kind(), RngCount::static_kind(),
                   OptState::static_kind()})
      (void)k;
    return true;
  }();
  (void)builtins;
  {
    auto& r = registry();
    std::lock_guard lock(r.mutex);
    auto it = r.by_name.find(std::string(name));
    if (it != r.by_name.end()) return Kind(it->second.get());
  }
  // A name this program never defined comes from a file: registered (kinds live as long as the
  // program), so it is bounded — a plausible name, and at most kMaxUnknownKinds of them — lest
  // crafted files make a long-running reader grow without end.
  constexpr std::size_t kMaxName = 128, kMaxUnknownKinds = 1024;
  static std::atomic<std::size_t> unknown{0};
  const bool plausible = !name.empty() && name.size() <= kMaxName &&
                         name.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:-") ==
                             std::string_view::npos;
  if (!plausible)
    throw Error("'" + std::string(name.substr(0, 64)) + "' is not a Variable kind name (1 to 128 of [A-Za-z0-9_.:-])");
  if (unknown.fetch_add(1) >= kMaxUnknownKinds)
    throw Error("more than " + std::to_string(kMaxUnknownKinds) + " Variable kinds this program does not define were read; "
                "kind '" + std::string(name) + "' is refused (define the kinds you use with NNX_VARIABLE_KIND)");
  return define(name, root);
}

const std::string& Kind::name() const { return info_->name; }
Kind Kind::parent() const { return Kind(info_->parent); }

bool Kind::is_a(Kind ancestor) const {
  for (const Info* i = info_;; i = i->parent) {
    if (i == ancestor.info_) return true;
    if (i->parent == i) return false;
  }
}

std::ostream& operator<<(std::ostream& os, Kind kind) { return os << kind.name(); }

std::string Variable::meta(const std::string& key, const std::string& fallback) const {
  auto it = metadata.find(key);
  return it == metadata.end() ? fallback : it->second;
}

}  // namespace nnx
