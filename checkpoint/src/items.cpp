#include "nnx/checkpoint/items.hpp"

#include <cereal/archives/json.hpp>
#include <sstream>

#include "format_version.hpp"
#include "json_guard.hpp"

namespace nnx::checkpoint {

const char* item_type_name(ItemType type) { return type == ItemType::state ? "state" : "json"; }

std::optional<ItemType> parse_item_type(std::string_view name) {
  if (name == "state") return ItemType::state;
  if (name == "json") return ItemType::json;
  return std::nullopt;
}

void JsonItem::check_header(const std::string& format, std::uint32_t version) {
  if (format != kJsonItemFormat)
    throw CheckpointError(ErrorCode::format, "JSON item has format '" + format + "', expected '" + kJsonItemFormat + "'");
  check_format_version("JSON item", version, kJsonItemVersion);
}

void JsonItem::check_text() const { check_json_text(text_, "JSON item"); }

void JsonItem::validate() const {
  check_text();
  std::string format;
  std::uint32_t version = 0;
  try {
    std::istringstream in(text_);
    cereal::JSONInputArchive ar(in);
    ar(cereal::make_nvp("format", format), cereal::make_nvp("format_version", version));
  } catch (const cereal::Exception& e) {
    throw CheckpointError(ErrorCode::corrupted, std::string("JSON item is not valid: ") + e.what());
  }
  check_header(format, version);
}

void Composite::check_name(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 128 && name[0] != '_' && name[0] != '.';
  for (char c : name) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.');
  if (!ok)
    throw CheckpointError(ErrorCode::usage, "item name '" + name + "' is not allowed: use 1 to 128 of A-Z a-z 0-9 _ - . "
                                                                   "and do not start with '_' or '.'");
}

Composite& Composite::add(const std::string& name, State state) {
  check_name(name);
  if (!items_.emplace(name, std::move(state)).second)
    throw CheckpointError(ErrorCode::usage, "item '" + name + "' is added twice");
  return *this;
}

Composite& Composite::add(const std::string& name, JsonItem json) {
  check_name(name);
  if (!items_.emplace(name, std::move(json)).second)
    throw CheckpointError(ErrorCode::usage, "item '" + name + "' is added twice");
  return *this;
}

namespace {
template <class Map> const typename Map::mapped_type& find_item(const Map& items, const std::string& name) {
  auto it = items.find(name);
  if (it == items.end()) {
    std::string names;
    for (const auto& [n, v] : items) names += (names.empty() ? "" : ", ") + n;
    throw CheckpointError(ErrorCode::not_found, "no item '" + name + "' (items: " + (names.empty() ? "none" : names) + ")");
  }
  return it->second;
}

template <class T, class Map> const T& get_item(const Map& items, const std::string& name, const char* type) {
  const auto& item = find_item(items, name);
  if (!std::holds_alternative<T>(item))
    throw CheckpointError(ErrorCode::usage, "item '" + name + "' is not a " + type);
  return std::get<T>(item);
}
}  // namespace

ItemType Composite::type(const std::string& name) const {
  return std::holds_alternative<State>(find_item(items_, name)) ? ItemType::state : ItemType::json;
}

bool Composite::is_state(const std::string& name) const { return contains(name) && type(name) == ItemType::state; }
const State& Composite::state(const std::string& name) const { return get_item<State>(items_, name, "State"); }
State& Composite::state(const std::string& name) { return const_cast<State&>(get_item<State>(items_, name, "State")); }
const JsonItem& Composite::json(const std::string& name) const { return get_item<JsonItem>(items_, name, "JSON item"); }

std::vector<std::string> Composite::names() const {
  std::vector<std::string> out;
  for (const auto& [n, v] : items_) out.push_back(n);
  return out;
}

}  // namespace nnx::checkpoint
