// Internal: JSON read and written by hand, token by token, for the small fixed grammars of nnx's own
// readers of untrusted text: the metrics log's lines (metrics_log.cpp) and the safetensors header
// (interop/src/safetensors.cpp).
//
// Reading: a cursor over bounded text. It reads one token at a time (strings, unsigned and signed
// integers, punctuation); the grammars built on it nest at most three levels and say at every step what they expect, so there is no
// recursion on the input's nesting and no way for a file to ask for unbounded stack or memory (every
// string read is a piece of the text). Every failure is a CheckpointError(corrupted) naming the file,
// the byte offset, what was expected and the caller's remedy. Strings are not checked for UTF-8
// here: check the whole text (utf8_error_offset) or each string read.
//
// Writing: strings escaped as serde_json (the reference writer's JSON library) escapes them, so the
// headers nnx writes are byte for byte those of the reference.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <utility>

#include "nnx/checkpoint/error.hpp"

namespace nnx::checkpoint::json {

// The first byte at which `text` is not well-formed UTF-8 (no overlongs, surrogates or code points
// beyond U+10FFFF), or text.size() when it all is.
std::size_t utf8_error_offset(std::string_view text);

class Cursor {
 public:
  // `where` names the text in messages ("'m.safetensors': the header"), `remedy` ends them ("the file
  // is damaged"); reading starts at byte `start`.
  Cursor(std::string_view text, std::string where, std::string remedy, std::size_t start = 0)
      : text_(text), where_(std::move(where)), remedy_(std::move(remedy)), pos_(start) {}

  void skip_space();
  bool at_end() { return skip_space(), pos_ == text_.size(); }
  // The next non-space byte, or '\0' at the end.
  char peek();
  // Consumes `c` (after spaces) or throws "expected <what>".
  void expect(char c, std::string_view what);
  // Consumes `c` when it is next.
  bool accept(char c);
  std::string read_string();
  std::uint64_t read_uint();  // a JSON integer >= 0 that fits u64
  std::int64_t read_int();    // a JSON integer that fits i64
  bool accept_null();         // consumes the literal null when it is next

  std::size_t offset() const { return pos_; }
  [[noreturn]] void fail(const std::string& problem) const;

 private:
  std::string_view text_;
  std::string where_;
  std::string remedy_;
  std::size_t pos_ = 0;
};

// Appends `s` as a JSON string: '"' and '\' escaped, \b \f \n \r \t, other bytes below 0x20 as \u00xx,
// everything else (UTF-8 included) as is.
void append_string(std::string& out, std::string_view s);

}  // namespace nnx::checkpoint::json
