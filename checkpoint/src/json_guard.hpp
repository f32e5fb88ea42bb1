// Internal: a check of JSON text before it reaches rapidjson (inside cereal's JSON archives).
//
// rapidjson's full-precision number parser, as Debian ships it, has undefined behaviour for numbers
// whose digits are all zero but that carry an exponent ("0e266": clz(0), then a huge shift; found by
// fuzz_metadata). nnx's writer never produces such numbers, so a document containing one is
// damaged: it is rejected before parsing.
#pragma once

#include <string>

#include "nnx/checkpoint/error.hpp"

namespace nnx::checkpoint {

inline void check_json_numbers(const std::string& text, const std::string& file) {
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
      continue;
    }
    if (!(c == '-' || (c >= '0' && c <= '9'))) continue;
    // A number token: its mantissa digits, then an optional exponent.
    std::size_t j = i + (c == '-' ? 1 : 0);
    bool nonzero = false;
    for (; j < text.size() && ((text[j] >= '0' && text[j] <= '9') || text[j] == '.'); ++j) nonzero |= text[j] >= '1' && text[j] <= '9';
    if (j < text.size() && (text[j] == 'e' || text[j] == 'E') && !nonzero)
      throw CheckpointError(ErrorCode::corrupted, "'" + file + "' holds the number '" + text.substr(i, j - i + 1) +
                                                      "...' (zero with an exponent), which nnx never writes: the file is damaged");
    i = j;
  }
}

}  // namespace nnx::checkpoint
