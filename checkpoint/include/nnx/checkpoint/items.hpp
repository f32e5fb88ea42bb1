// nnx/checkpoint/items.hpp — what one checkpoint step holds: named States and JSON items.
//
//   nnx::checkpoint::Composite items;
//   items.add("model", nnx::state(model))
//        .add("optimizer", nnx::state(optimizer))
//        .add("data", nnx::state(loader))
//        .add_json("config", config);            // anything cereal can serialize to JSON
//   manager.save(step, items, {{"val_loss", 0.12}});
//
// As Orbax's Composite: each item is saved and restored by name. Item names are [A-Za-z0-9_.-]
// and do not start with '_' or '.' (those names belong to the format).
#pragma once

#include <map>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include <cereal/archives/json.hpp>

#include "nnx/checkpoint/error.hpp"
#include "nnx/state.hpp"

namespace nnx::checkpoint {

inline constexpr const char* kJsonItemFormat = "nnx-json-item";
inline constexpr std::uint32_t kJsonItemVersion = 1;

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
  template <class T> static JsonItem from(const T& value) {
    std::ostringstream out;
    {
      cereal::JSONOutputArchive ar(out);
      ar(cereal::make_nvp("format", std::string(kJsonItemFormat)), cereal::make_nvp("format_version", kJsonItemVersion),
         cereal::make_nvp("value", value));
    }
    return from_text(out.str());
  }
  // Reads the value back; a document of another format, a newer version or the wrong shape is a
  // CheckpointError naming what was expected.
  template <class T> T get() const {
    check_text();
    T value{};
    try {
      std::istringstream in(text_);
      cereal::JSONInputArchive ar(in);
      std::string format;
      std::uint32_t version = 0;
      ar(cereal::make_nvp("format", format), cereal::make_nvp("format_version", version));
      check_header(format, version);
      ar(cereal::make_nvp("value", value));
    } catch (const cereal::Exception& e) {
      throw CheckpointError(ErrorCode::corrupted, std::string("JSON item does not hold the expected value: ") + e.what());
    }
    return value;
  }
  const std::string& text() const { return text_; }
  // Checks that the text is a JSON item of a version this build reads (throws CheckpointError).
  void validate() const;

 private:
  static void check_header(const std::string& format, std::uint32_t version);
  void check_text() const;  // rejects numbers the JSON parser mishandles (see src/json_guard.hpp)
  std::string text_;
};

class Composite {
 public:
  Composite& add(const std::string& name, State state);
  Composite& add(const std::string& name, JsonItem json);
  template <class T> Composite& add_json(const std::string& name, const T& value) { return add(name, JsonItem::from(value)); }

  bool contains(const std::string& name) const { return items_.count(name) != 0; }
  bool is_state(const std::string& name) const;
  const State& state(const std::string& name) const;  // throws CheckpointError naming the item
  State& state(const std::string& name);
  const JsonItem& json(const std::string& name) const;
  std::vector<std::string> names() const;
  std::size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }

  // Checks an item name; throws CheckpointError(usage) explaining the rule.
  static void check_name(const std::string& name);

 private:
  std::map<std::string, std::variant<State, JsonItem>> items_;
};

}  // namespace nnx::checkpoint
