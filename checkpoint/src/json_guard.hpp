// Internal: a check of JSON text before it reaches rapidjson (inside cereal's JSON archives).
//
// rapidjson's full-precision number parser, as Debian ships it, has undefined behaviour on numbers
// no JSON writer of nnx produces (found by fuzz_metadata): zeros spelled with an exponent or many
// digits ("0e266", "0.000...0": clz(0), then a huge shift) and numbers with hundreds of digits
// (signed overflow of the decimal exponent). nnx writes at most ~25 digits, exponents within
// +-330, and zero as "0" or "0.0"; anything else is damage and is rejected before parsing.
//
// rapidjson also parses recursively: ~140,000 nested '[' overflow the stack (SIGSEGV, issue 11).
// Nesting deeper than kMaxJsonDepth is rejected here, before parsing. nnx's own files nest at most
// 4 levels; the bound leaves room for users' types in JSON items and keeps the parser's recursion
// (a few hundred bytes of stack per level) far below any thread's stack.
#pragma once

#include <algorithm>
#include <string>

#include "nnx/checkpoint/error.hpp"

namespace nnx::checkpoint {

inline constexpr int kMaxJsonDepth = 256;

// Throws CheckpointError(corrupted) naming `file` when `text` nests deeper than kMaxJsonDepth or
// holds a number spelling nnx never writes.
inline void check_json_text(const std::string& text, const std::string& file) {
  bool in_string = false;
  int depth = 0;
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
    if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth)
        throw CheckpointError(ErrorCode::corrupted, "'" + file + "' nests JSON arrays or objects deeper than " +
                                                        std::to_string(kMaxJsonDepth) +
                                                        " levels (at byte " + std::to_string(i) + "): the file is damaged");
      continue;
    }
    if (c == ']' || c == '}') {
      --depth;
      continue;
    }
    if (!(c == '-' || (c >= '0' && c <= '9'))) continue;
    // A number token as JSON reads it: -? digits (. digits)? ([eE] ...)? — one '.' at most.
    std::size_t j = i + (c == '-' ? 1 : 0);
    bool nonzero = false;
    std::size_t digits = 0;
    auto take_digits = [&] {
      for (; j < text.size() && text[j] >= '0' && text[j] <= '9'; ++j, ++digits) nonzero |= text[j] != '0';
    };
    take_digits();
    if (j < text.size() && text[j] == '.') {
      ++j;
      take_digits();
    }
    const bool exponent = j < text.size() && (text[j] == 'e' || text[j] == 'E');
    std::size_t exponent_digits = 0;
    if (exponent) {
      std::size_t k = j + 1;
      if (k < text.size() && (text[k] == '+' || text[k] == '-')) ++k;
      bool significant = false;  // leading zeros of the exponent do not count
      for (; k < text.size() && text[k] >= '0' && text[k] <= '9'; ++k)
        if ((significant |= text[k] != '0')) ++exponent_digits;
      j = k;
    }
    if ((!nonzero && (exponent || digits > 2)) || digits > 40 || exponent_digits > 3)
      throw CheckpointError(ErrorCode::corrupted, "'" + file + "' holds the number '" + text.substr(i, std::min<std::size_t>(j - i + 1, 24)) +
                                                      "...' (a spelling of a number nnx never writes): the file is damaged");
    i = j - 1;  // the loop's ++i continues right after the number
  }
}

}  // namespace nnx::checkpoint
