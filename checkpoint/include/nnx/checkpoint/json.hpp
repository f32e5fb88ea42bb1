// nnx/checkpoint/json.hpp — opt-in: your own types as JSON items, through cereal (and rapidjson).
//
//   #include <nnx/checkpoint/json.hpp>       // link nnx::checkpoint_json (brings cereal's headers)
//   struct Config { int epochs; std::string name;
//                   template <class A> void serialize(A& ar) { ar(CEREAL_NVP(epochs), CEREAL_NVP(name)); } };
//   manager.save(step, Composite().add("model", nnx::state(model)).add_json("config", config));
//   Config c = manager.restore_json(step, "config").get<Config>();
//
// Kept out of items.hpp/manager.hpp so that a program that only saves and restores States does not
// compile cereal and rapidjson in every file that includes <nnx/checkpoint.hpp>. Include the cereal
// type headers your types need (<cereal/types/string.hpp>, <cereal/types/vector.hpp>, ...).
#pragma once

#include <cereal/archives/json.hpp>
#include <sstream>
#include <string>

#include "nnx/checkpoint/items.hpp"

namespace nnx::checkpoint {

template <class T> struct JsonCodec {
  static std::string write(const T& value) {
    std::ostringstream out;
    {
      cereal::JSONOutputArchive ar(out);
      ar(cereal::make_nvp("format", std::string(kJsonItemFormat)), cereal::make_nvp("format_version", kJsonItemVersion),
         cereal::make_nvp("value", value));
    }
    return out.str();
  }

  static T read(const JsonItem& item) {
    item.check_text();
    T value{};
    try {
      std::istringstream in(item.text());
      cereal::JSONInputArchive ar(in);
      std::string format;
      std::uint32_t version = 0;
      ar(cereal::make_nvp("format", format), cereal::make_nvp("format_version", version));
      JsonItem::check_header(format, version);
      ar(cereal::make_nvp("value", value));
    } catch (const cereal::Exception& e) {
      throw CheckpointError(ErrorCode::corrupted, std::string("JSON item does not hold the expected value: ") + e.what());
    }
    return value;
  }
};

}  // namespace nnx::checkpoint
