// nnx/checkpoint/items.hpp — what one checkpoint step holds: named States and JSON items.
//
//   #include <nnx/checkpoint/json.hpp>   // only for add_json, JsonItem::from and get<T> (cereal)
//   nnx::checkpoint::Composite items;
//   items.add("model", nnx::state(model))
//        .add("optimizer", nnx::state(optimizer))
//        .add("data", nnx::state(loader))
//        .add_json("config", config);            // anything cereal can serialize to JSON
//   manager.save(step, items, {{"val_loss", 0.12}});
//
// As Orbax's Composite: each item is saved and restored by name. Item names are [A-Za-z0-9_.-]
// and do not start with '_' or '.' (those names belong to the format).
//
// This header includes no cereal (nor rapidjson): turning a C++ value into a JSON item and back
// (JsonItem::from, JsonItem::get<T>, Composite::add_json) is cereal's work and lives in the opt-in
// header <nnx/checkpoint/json.hpp> (target nnx::checkpoint_json). Calling them without it is a
// compile error naming the incomplete type nnx::checkpoint::JsonCodec<T>.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "nnx/checkpoint/error.hpp"
#include "nnx/state.hpp"

namespace nnx::checkpoint {

inline constexpr const char* kJsonItemFormat = "nnx-json-item";
inline constexpr std::uint32_t kJsonItemVersion = 1;

// The two kinds of item. On disk (step metadata) they are spelled "state" and "json"; these two
// functions are the only translation between the enum and those words.
enum class ItemType { state, json };
const char* item_type_name(ItemType type);                          // "state" or "json"
std::optional<ItemType> parse_item_type(std::string_view name);     // nothing for any other word

// Converts values of type T to and from JSON item text (cereal); defined in nnx/checkpoint/json.hpp.
template <class T> struct JsonCodec;

// A JSON document holding one value written by cereal:
//   {"format": "nnx-json-item", "format_version": 1, "value": ...}
class JsonItem {
 public:
  JsonItem() = default;
  // Wraps text already in the format above (as read from a file); validated on get().
  static JsonItem from_text(std::string text) {
    JsonItem j;
    j.text_ = std::move(text);
    return j;
  }
  // Needs <nnx/checkpoint/json.hpp>.
  template <class T> static JsonItem from(const T& value) { return from_text(JsonCodec<T>::write(value)); }
  // Reads the value back; a document of another format, a newer version or the wrong shape is a
  // CheckpointError naming what was expected. Needs <nnx/checkpoint/json.hpp>.
  template <class T> T get() const { return JsonCodec<T>::read(*this); }
  const std::string& text() const { return text_; }
  // Checks that the text is a JSON item of a version this build reads (throws CheckpointError).
  void validate() const;

 private:
  template <class> friend struct JsonCodec;
  static void check_header(const std::string& format, std::uint32_t version);
  void check_text() const;  // rejects numbers the JSON parser mishandles (see src/json_guard.hpp)
  std::string text_;
};

class Composite {
 public:
  Composite& add(const std::string& name, State state);
  Composite& add(const std::string& name, JsonItem json);
  // Needs <nnx/checkpoint/json.hpp>.
  template <class T> Composite& add_json(const std::string& name, const T& value) { return add(name, JsonItem::from(value)); }

  bool contains(const std::string& name) const { return items_.count(name) != 0; }
  ItemType type(const std::string& name) const;  // throws CheckpointError naming the item
  bool is_state(const std::string& name) const;  // false also when there is no such item
  const State& state(const std::string& name) const;  // throws CheckpointError naming the item
  State& state(const std::string& name);
  const JsonItem& json(const std::string& name) const;
  std::vector<std::string> names() const;
  std::size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }

  // Checks an item name; throws CheckpointError(usage) explaining the rule.
  static void check_name(const std::string& name);

 private:
  // The variant's index is the ItemType: State first, JsonItem second.
  std::map<std::string, std::variant<State, JsonItem>> items_;
};

}  // namespace nnx::checkpoint
