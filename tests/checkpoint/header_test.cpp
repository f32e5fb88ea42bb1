// The public checkpoint headers include no cereal and no rapidjson: only <nnx/checkpoint/json.hpp>
// (opt-in) does. This file includes <nnx/checkpoint.hpp> alone, before anything else could.
#include <nnx/checkpoint.hpp>

#if defined(CEREAL_CEREAL_HPP_) || defined(CEREAL_ARCHIVES_JSON_HPP_) || defined(RAPIDJSON_RAPIDJSON_H_) || \
    defined(CEREAL_RAPIDJSON_RAPIDJSON_H_)
#error "<nnx/checkpoint.hpp> includes cereal or rapidjson; move the include behind <nnx/checkpoint/json.hpp>"
#endif
#if defined(BOOST_FILESYSTEM_FILESYSTEM_HPP)
#error "<nnx/checkpoint.hpp> includes Boost.Filesystem, a private dependency of nnx::checkpoint"
#endif

#include <doctest/doctest.h>

TEST_CASE("<nnx/checkpoint.hpp> compiles without cereal, rapidjson or Boost.Filesystem") {
  // The #if above is the test; this checks the header is usable on its own.
  nnx::checkpoint::Composite items;
  items.add("text", nnx::checkpoint::JsonItem::from_text(R"({"format": "nnx-json-item", "format_version": 1, "value": 1})"));
  CHECK(items.type("text") == nnx::checkpoint::ItemType::json);
  CHECK_FALSE(items.is_state("text"));
  CHECK_FALSE(items.is_state("missing"));
}
