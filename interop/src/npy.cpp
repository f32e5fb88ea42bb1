// The .npy format (nnx/interop/npz.hpp): header written and parsed here; the parser accepts only
// the dict numpy writes — three keys, string / bool / tuple values — and never recurses.
#include <algorithm>
#include <charconv>
#include <cstring>
#include <optional>

#include "nnx/checkpoint/error.hpp"
#include "nnx/interop/npz.hpp"
#include "guard.hpp"
#include "npy.hpp"

namespace nnx::interop {

namespace {
using checkpoint::CheckpointError;
using checkpoint::ErrorCode;

constexpr char kMagic[] = "\x93NUMPY";
constexpr std::size_t kMaxHeader = 64 << 10;

const char* descr_of(DType dtype) {
  switch (dtype) {
    case DType::float32: return "<f4";
    case DType::float64: return "<f8";
    case DType::int32: return "<i4";
    case DType::int64: return "<i8";
    case DType::uint32: return "<u4";
  }
  return "?";
}

struct Descr {
  DType dtype;
  bool big_endian;
};

std::optional<Descr> parse_descr(const std::string& d) {
  if (d.size() != 3 || (d[0] != '<' && d[0] != '>' && d[0] != '=' && d[0] != '|')) return std::nullopt;
  const bool big = d[0] == '>';
  const std::string code = d.substr(1);
  for (DType t : {DType::float32, DType::float64, DType::int32, DType::int64, DType::uint32})
    if (code == descr_of(t) + 1) return Descr{t, big};
  return std::nullopt;
}

// The header dict: {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& where) : s_(text), where_(where) {}

  NpyHeader parse() {
    NpyHeader h;
    bool has_descr = false, has_order = false, has_shape = false;
    expect('{');
    while (true) {
      spaces();
      if (peek() == '}') break;
      const std::string key = quoted();
      expect(':');
      spaces();
      if (key == "descr") {
        h.descr = quoted();
        has_descr = true;
      } else if (key == "fortran_order") {
        h.fortran_order = boolean();
        has_order = true;
      } else if (key == "shape") {
        h.shape = tuple();
        has_shape = true;
      } else {
        fail("an unknown key '" + key + "'");
      }
      spaces();
      if (peek() == ',') {
        ++i_;
        continue;
      }
      spaces();
      if (peek() != '}') fail("expected ',' or '}'");
    }
    ++i_;
    while (i_ < s_.size() && s_[i_] == ' ') ++i_;
    if (i_ + 1 != s_.size() || s_[i_] != '\n') fail("the header does not end with spaces and a newline");
    if (!has_descr || !has_order || !has_shape) fail("'descr', 'fortran_order' and 'shape' must all be given");
    return h;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw CheckpointError(ErrorCode::corrupted, where_ + ": not a .npy header numpy writes (" + what + " at byte " +
                                                    std::to_string(i_) + " of the header)");
  }
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void spaces() {
    while (peek() == ' ') ++i_;
  }
  void expect(char c) {
    spaces();
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++i_;
  }
  std::string quoted() {
    spaces();
    const char q = peek();
    if (q != '\'' && q != '"') fail("expected a quoted string");
    const std::size_t end = s_.find(q, i_ + 1);
    if (end == std::string_view::npos || end - i_ > 64) fail("an unterminated or overlong string");
    std::string out(s_.substr(i_ + 1, end - i_ - 1));
    i_ = end + 1;
    return out;
  }
  bool boolean() {
    if (s_.substr(i_, 4) == "True") return i_ += 4, true;
    if (s_.substr(i_, 5) == "False") return i_ += 5, false;
    fail("expected True or False");
  }
  Shape tuple() {
    expect('(');
    Shape shape;
    while (true) {
      spaces();
      if (peek() == ')') break;
      std::int64_t d = -1;
      const auto r = std::from_chars(s_.data() + i_, s_.data() + s_.size(), d);
      if (r.ec != std::errc() || d < 0) fail("a dimension is not a non-negative integer");
      i_ = static_cast<std::size_t>(r.ptr - s_.data());
      if (shape.size() == Shape::max_rank) fail("more than " + std::to_string(Shape::max_rank) + " dimensions (nnx's limit)");
      shape.push_back(d);
      spaces();
      if (peek() == ',') ++i_;
      else if (peek() != ')') fail("expected ',' or ')'");
    }
    ++i_;
    return shape;
  }

  std::string_view s_;
  std::string where_;
  std::size_t i_ = 0;
};
}  // namespace

std::string npy_header(const Array& array) {
  std::string dict = std::string("{'descr': '") + descr_of(array.dtype()) + "', 'fortran_order': False, 'shape': (";
  for (std::size_t i = 0; i < array.shape().size(); ++i) dict += std::to_string(array.shape()[i]) + ", ";
  if (array.shape().size() > 1) dict.resize(dict.size() - 2);  // (2, 3); a 1-d shape keeps its comma: (3,)
  else if (array.shape().size() == 1) dict.pop_back();
  dict += "), }";
  // Padded with spaces so that magic + version + length + header is a multiple of 64, then '\n'.
  const std::size_t unpadded = 10 + dict.size() + 1;
  dict.append((64 - unpadded % 64) % 64, ' ');
  dict += '\n';
  std::string out(kMagic, 6);
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(dict.size() & 0xff);
  out += static_cast<char>(dict.size() >> 8);
  return out + dict;
}

NpyHeader read_npy_header(const unsigned char* p, std::size_t size, const std::string& where) {
  const auto bad = [&](const std::string& what) {
    return CheckpointError(ErrorCode::format, where + ": not a .npy file (" + what + ")");
  };
  if (size < 10 || std::memcmp(p, kMagic, 6) != 0) throw bad("no \\x93NUMPY magic");
  const unsigned major = p[6];
  std::size_t header_len = 0, prefix = 0;
  if (major == 1) {
    header_len = p[8] | (std::size_t{p[9]} << 8);
    prefix = 10;
  } else if (major == 2 || major == 3) {
    if (size < 12) throw bad("truncated");
    header_len = p[8] | (std::size_t{p[9]} << 8) | (std::size_t{p[10]} << 16) | (std::size_t{p[11]} << 24);
    prefix = 12;
  } else {
    throw bad("version " + std::to_string(major) + "." + std::to_string(p[7]) + "; this reader knows 1.0, 2.0 and 3.0");
  }
  if (header_len > kMaxHeader || header_len > size - prefix)
    throw bad("a header of " + std::to_string(header_len) + " bytes, more than the " + std::to_string(std::min(kMaxHeader, size - prefix)) +
              " it may have");
  NpyHeader h = HeaderParser(std::string_view(reinterpret_cast<const char*>(p) + prefix, header_len), where).parse();
  h.data_offset = prefix + header_len;
  const std::optional<Descr> descr = parse_descr(h.descr);
  if (!descr)
    throw CheckpointError(ErrorCode::format, where + ": dtype '" + h.descr + "' is not one nnx holds (float32, float64, int32, "
                                                 "int64, uint32); convert it in numpy first, e.g. a.astype(numpy.float32)");
  if (h.fortran_order)
    throw CheckpointError(ErrorCode::format, where + ": a Fortran-ordered array; save numpy.ascontiguousarray(a) instead");
  h.dtype = descr->dtype;
  h.big_endian = descr->big_endian;
  // Overflow-checked: shape × element size must equal the bytes after the header.
  const std::uint64_t present = size - h.data_offset;
  std::uint64_t bytes = dtype_size(h.dtype);
  bool overflow = false;
  for (std::int64_t d : h.shape) overflow = __builtin_mul_overflow(bytes, static_cast<std::uint64_t>(d), &bytes) || overflow;
  for (std::int64_t d : h.shape) overflow = overflow && d != 0;  // a zero dimension: no bytes, whatever the others
  if (overflow)
    throw CheckpointError(ErrorCode::corrupted, where + ": shape " + ShapeDtype{h.shape, h.dtype}.str() + " is larger than any file");
  if (bytes != present)
    throw CheckpointError(ErrorCode::corrupted, where + ": " + ShapeDtype{h.shape, h.dtype}.str() + " needs " + std::to_string(bytes) +
                                                    " bytes, the entry holds " + std::to_string(present));
  return h;
}

void to_native_order(Array& array, bool big_endian) {
  if (!big_endian) return;
  auto* p = static_cast<unsigned char*>(array.mutable_raw_data());
  const std::size_t w = dtype_size(array.dtype());
  for (std::size_t i = 0; i < array.nbytes(); i += w) std::reverse(p + i, p + i + w);
}

std::string npy_bytes(const Array& array) {
  std::string out = npy_header(array);
  out.append(static_cast<const char*>(array.raw_data()), array.nbytes());
  return out;
}

namespace {
Array parse_npy_unguarded(const void* data, std::size_t size, const std::string& where) {
  const auto* p = static_cast<const unsigned char*>(data);
  const NpyHeader h = read_npy_header(p, size, where);
  Array a = Array::empty(h.shape, h.dtype);
  if (a.nbytes()) std::memcpy(a.mutable_raw_data(), p + h.data_offset, a.nbytes());
  to_native_order(a, h.big_endian);
  return a;
}
}  // namespace

Array parse_npy(const void* data, std::size_t size, const std::string& where) {
  return checkpoint::guard_read(where, [&] { return parse_npy_unguarded(data, size, where); });
}


}  // namespace nnx::interop
