// The safetensors format: reading (bounded, every size checked before allocating), writing (the
// reference writer's layout, durably), and the mapping between a State and a file's names and
// "nnx.*" metadata entries. docs/interop.md is the prose version of this file.
#include "nnx/interop/safetensors.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <set>

#include "guard.hpp"
#include "io.hpp"
#include "json_text.hpp"

static_assert(std::endian::native == std::endian::little,
              "safetensors holds little-endian bytes; nnx's Arrays are written and read as they are in memory");

namespace nnx::interop {

namespace json = checkpoint::json;
using checkpoint::CheckpointError;
using checkpoint::ErrorCode;

namespace {

constexpr const char* kNotSafetensors = "the file is damaged or not a safetensors file";

// 'text', for messages.
std::string q(const std::string& text) { return checkpoint::quoted(text); }

// The dtypes of the format. `order` is the position in the reference's Dtype enum, which the
// reference writer sorts by (largest first) to keep every tensor aligned to its element size.
struct DtypeInfo {
  std::string_view name;
  int order;
  std::size_t size;
  bool supported;
  DType dtype;  // when supported
};
constexpr DtypeInfo kDtypes[] = {
    {"BOOL", 0, 1, false, DType::float32},    {"F4", 1, 1, false, DType::float32},
    {"F6_E2M3", 2, 1, false, DType::float32}, {"F6_E3M2", 3, 1, false, DType::float32},
    {"U8", 4, 1, false, DType::float32},      {"I8", 5, 1, false, DType::float32},
    {"F8_E5M2", 6, 1, false, DType::float32}, {"F8_E4M3", 7, 1, false, DType::float32},
    {"F8_E8M0", 8, 1, false, DType::float32}, {"I16", 9, 2, false, DType::float32},
    {"U16", 10, 2, false, DType::float32},    {"F16", 11, 2, false, DType::float32},
    {"BF16", 12, 2, false, DType::float32},   {"I32", 13, 4, true, DType::int32},
    {"U32", 14, 4, true, DType::uint32},      {"F32", 15, 4, true, DType::float32},
    {"C64", 16, 8, false, DType::float32},    {"F64", 17, 8, true, DType::float64},
    {"I64", 18, 8, true, DType::int64},       {"U64", 19, 8, false, DType::float32},
};

const DtypeInfo* find_dtype(std::string_view name) {
  for (const auto& d : kDtypes)
    if (d.name == name) return &d;
  return nullptr;
}

const DtypeInfo& info_of(DType dtype) {
  for (const auto& d : kDtypes)
    if (d.supported && d.dtype == dtype) return d;
  throw Error("safetensors: no dtype for " + std::string(dtype_name(dtype)));
}

std::string what_to_do_with(std::string_view dtype) {
  if (dtype == "F16" || dtype == "BF16" || dtype.starts_with("F8") || dtype.starts_with("F6") || dtype == "F4")
    return "convert it in Python first (tensor.float() or numpy's astype(np.float32))";
  if (dtype == "BOOL" || dtype == "U8" || dtype == "I8" || dtype == "I16" || dtype == "U16")
    return "convert it in Python first (tensor.int() or astype(np.int32))";
  if (dtype == "U64") return "convert it in Python first (astype(np.int64), when the values fit)";
  return "convert it in Python first to float32, float64, int32, int64 or uint32";
}

// A tensor's entry in the header, as read: nothing checked yet but the grammar.
struct Entry {
  std::string name;
  std::string dtype;
  std::vector<std::uint64_t> shape;
  std::uint64_t begin = 0, end = 0;
};

struct Header {
  std::vector<Entry> entries;
  std::map<std::string, std::string> metadata;
};

std::string tensor_where(const std::string& file, const std::string& name) {
  return q(file) + ", tensor " + q(name);
}

// { "k": "v", ... } into `out`; duplicate keys refused.
void read_string_map(json::Cursor& c, std::map<std::string, std::string>& out, std::string_view what) {
  c.expect('{', "'{' opening " + std::string(what));
  if (c.accept('}')) return;
  do {
    std::string key = c.read_string();
    c.expect(':', "':'");
    if (c.peek() != '"') c.fail(std::string(what) + ": the value of " + q(key) + " must be a string");
    std::string value = c.read_string();
    if (!out.emplace(key, std::move(value)).second) c.fail(std::string(what) + ": the key " + q(key) + " appears twice");
  } while (c.accept(','));
  c.expect('}', "',' or '}' in " + std::string(what));
}

std::vector<std::uint64_t> read_uint_array(json::Cursor& c, std::string_view what) {
  std::vector<std::uint64_t> v;
  c.expect('[', "'[' opening " + std::string(what));
  if (c.accept(']')) return v;
  do {
    if (v.size() == Shape::max_rank + 1) break;  // enough to say it is too long; checked by the caller
    v.push_back(c.read_uint());
  } while (c.accept(','));
  if (v.size() > Shape::max_rank) return v;
  c.expect(']', "',' or ']' in " + std::string(what));
  return v;
}

Entry read_entry(json::Cursor& c, std::string name, const std::string& file) {
  Entry e;
  e.name = std::move(name);
  bool has_dtype = false, has_shape = false, has_offsets = false;
  c.expect('{', "'{' opening the entry of tensor " + q(e.name));
  if (!c.accept('}')) {
    do {
      const std::string field = c.read_string();
      c.expect(':', "':'");
      bool* seen = nullptr;
      if (field == "dtype") {
        seen = &has_dtype;
        e.dtype = c.read_string();
      } else if (field == "shape") {
        seen = &has_shape;
        e.shape = read_uint_array(c, "a shape");
        if (e.shape.size() > Shape::max_rank)
          throw CheckpointError(ErrorCode::corrupted, tensor_where(file, e.name) + ": more than " +
                                                          std::to_string(Shape::max_rank) +
                                                          " dimensions; nnx arrays have at most that many");
      } else if (field == "data_offsets") {
        seen = &has_offsets;
        const auto o = read_uint_array(c, "data_offsets");
        if (o.size() != 2) c.fail("tensor " + q(e.name) + ": data_offsets must be [begin, end]");
        e.begin = o[0];
        e.end = o[1];
      } else {
        c.fail("tensor " + q(e.name) + ": unknown field " + q(field) +
               " (a tensor has dtype, shape and data_offsets)");
      }
      if (*seen) c.fail("tensor " + q(e.name) + ": the field " + q(field) + " appears twice");
      *seen = true;
    } while (c.accept(','));
    c.expect('}', "',' or '}' in the entry of tensor " + q(e.name));
  }
  if (!has_dtype || !has_shape || !has_offsets)
    throw CheckpointError(ErrorCode::corrupted, tensor_where(file, e.name) + ": the entry lacks " +
                                                    (!has_dtype ? "dtype" : !has_shape ? "shape" : "data_offsets") +
                                                    "; the file is damaged");
  return e;
}

Header parse_header(std::string_view text, const std::string& file) {
  const std::size_t bad = json::utf8_error_offset(text);
  if (bad != text.size())
    throw CheckpointError(ErrorCode::corrupted, q(file) + ": the header is not UTF-8 (byte " + std::to_string(bad) +
                                                    " of the header); the file is damaged or not a safetensors file");
  json::Cursor c(text, q(file) + ": the header", kNotSafetensors);
  Header h;
  bool has_metadata = false;
  std::set<std::string> names;
  c.expect('{', "'{' (a safetensors header is a JSON object)");
  if (!c.accept('}')) {
    do {
      std::string key = c.read_string();
      c.expect(':', "':'");
      if (key == "__metadata__") {
        if (has_metadata) c.fail("\"__metadata__\" appears twice");
        has_metadata = true;
        if (!c.accept_null()) read_string_map(c, h.metadata, "\"__metadata__\"");
        continue;
      }
      if (!names.insert(key).second) c.fail("the tensor " + q(key) + " appears twice");
      h.entries.push_back(read_entry(c, std::move(key), file));
    } while (c.accept(','));
    c.expect('}', "',' or '}' closing the header");
  }
  if (!c.at_end()) c.fail("bytes after the header's JSON object (only spaces may pad it)");
  return h;
}

std::uint64_t read_u64_le(const unsigned char* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// Checks entries against the format and the bytes present: dtypes, shapes, sizes, and that the
// offsets tile the data area [0, data_bytes) exactly. Sorts the entries by offset.
void check_layout(std::vector<Entry>& entries, std::uint64_t data_bytes, const std::string& file) {
  for (const Entry& e : entries) {
    const DtypeInfo* d = find_dtype(e.dtype);
    if (!d)
      throw CheckpointError(ErrorCode::format, tensor_where(file, e.name) + ": unknown dtype " + q(e.dtype) +
                                                   " (safetensors has F64, F32, I64, I32, U32, F16, BF16, ...); "
                                                   "the file is damaged or from a newer safetensors");
    if (!d->supported)
      throw CheckpointError(ErrorCode::format, tensor_where(file, e.name) + ": dtype " + q(e.dtype) +
                                                   ", which nnx has no type for (nnx holds F32, F64, I32, I64, U32); " +
                                                   what_to_do_with(e.dtype));
    if (e.end < e.begin)
      throw CheckpointError(ErrorCode::corrupted, tensor_where(file, e.name) + ": data_offsets [" + std::to_string(e.begin) +
                                                      ", " + std::to_string(e.end) + "] end before they begin");
    std::uint64_t n = d->size;
    for (const std::uint64_t dim : e.shape) {
      if (dim > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) ||
          (dim != 0 && n > std::numeric_limits<std::uint64_t>::max() / dim))
        throw CheckpointError(ErrorCode::corrupted, tensor_where(file, e.name) + ": the shape's size overflows 64 bits");
      n *= dim;
    }
    if (n != e.end - e.begin)
      throw CheckpointError(ErrorCode::corrupted,
                            tensor_where(file, e.name) + ": " + e.dtype + " of shape " +
                                shape_string(Shape(e.shape.begin(), e.shape.end()) ) + " takes " + std::to_string(n) +
                                " bytes, but data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
                                "] span " + std::to_string(e.end - e.begin) + "; the file is damaged");
  }
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return std::tie(a.begin, a.end, a.name) < std::tie(b.begin, b.end, b.name); });
  std::uint64_t at = 0;
  for (const Entry& e : entries) {
    if (e.begin != at)
      throw CheckpointError(ErrorCode::corrupted,
                            tensor_where(file, e.name) + ": data_offsets begin at " + std::to_string(e.begin) +
                                " where the previous tensor ends at " + std::to_string(at) + " (" +
                                (e.begin > at ? "a gap" : "an overlap") +
                                "; tensors lie back to back from offset 0); the file is damaged");
    at = e.end;
  }
  if (at != data_bytes)
    throw CheckpointError(at > data_bytes ? ErrorCode::truncated : ErrorCode::corrupted,
                          q(file) + ": the tensors span " + std::to_string(at) + " bytes after the header, the file holds " +
                              std::to_string(data_bytes) +
                              (at > data_bytes ? " (truncated: copy or download it again)" : " (bytes no tensor claims; the file is damaged)"));
}

void check_utf8_name(std::string_view s, std::string_view what) {
  if (json::utf8_error_offset(s) != s.size())
    throw CheckpointError(ErrorCode::usage, std::string(what) + " " + q(std::string(s)) +
                                                " is not UTF-8; safetensors headers are UTF-8 JSON: rename it");
}

std::string unique_suffix() {
  static std::atomic<unsigned> counter{0};
  return std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

bool canonical_index(std::string_view s, std::int64_t* value) {
  if (s.empty() || s.size() > 19 || (s.size() > 1 && s[0] == '0')) return false;
  std::uint64_t v = 0;
  for (const char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return false;
  *value = static_cast<std::int64_t>(v);
  return true;
}

constexpr std::string_view kFormatKey = "nnx.format", kKindPrefix = "nnx.kind.", kPathPrefix = "nnx.path.",
                           kMetaPrefix = "nnx.meta.";

std::string path_json(const Path& path) {
  std::string out = "[";
  for (std::size_t i = 0; i < path.size(); ++i) {
    if (i) out += ',';
    if (path[i].is_index()) out += std::to_string(path[i].index());
    else json::append_string(out, path[i].name());
  }
  return out + "]";
}

std::string metadata_json(const Metadata& metadata) {
  std::string out = "{";
  for (const auto& [k, v] : metadata) {
    if (out.size() > 1) out += ',';
    json::append_string(out, k);
    out += ':';
    json::append_string(out, v);
  }
  return out + "}";
}

Path parse_path_json(const std::string& text, const std::string& where) {
  json::Cursor c(text, where, kNotSafetensors);
  std::vector<PathKey> keys;
  c.expect('[', "'[' opening a path");
  if (!c.accept(']')) {
    do {
      if (c.peek() == '"') keys.emplace_back(c.read_string());
      else keys.emplace_back(c.read_int());
    } while (c.accept(','));
    c.expect(']', "',' or ']' in a path");
  }
  if (!c.at_end()) c.fail("bytes after the path");
  return Path(std::move(keys));
}

}  // namespace

std::string safetensors_name(const Path& path) {
  std::string name;
  for (std::size_t i = 0; i < path.size(); ++i) {
    if (i) name += '.';
    name += path[i].str();
  }
  return name;
}

Path path_from_safetensors_name(std::string_view name) {
  std::vector<PathKey> keys;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = name.find('.', start);
    const std::string_view part = name.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    std::int64_t index = 0;
    if (canonical_index(part, &index)) keys.emplace_back(index);
    else keys.emplace_back(part);
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return Path(std::move(keys));
}

SafetensorsFile read_safetensors(const std::string& path) {
  return checkpoint::guard_read(checkpoint::quoted(path), [&] {
    checkpoint::io::File f = checkpoint::io::File::open_read(path);
    const std::uint64_t size = f.size();
    if (size < 8)
      throw CheckpointError(ErrorCode::truncated, q(path) + " is " + std::to_string(size) +
                                                      " bytes; a safetensors file starts with an 8-byte header length");
    unsigned char prefix[8];
    f.read_at(prefix, 8, 0);
    const std::uint64_t n = read_u64_le(prefix);
    if (n > kMaxSafetensorsHeaderBytes)
      throw CheckpointError(ErrorCode::corrupted, q(path) + ": the header length is " + std::to_string(n) +
                                                      " bytes, more than the " + std::to_string(kMaxSafetensorsHeaderBytes) +
                                                      " a safetensors header may have; the file is damaged or not a safetensors file");
    if (n > size - 8)
      throw CheckpointError(ErrorCode::truncated, q(path) + ": the header length is " + std::to_string(n) +
                                                      " bytes, but only " + std::to_string(size - 8) +
                                                      " follow the length; the file is truncated or not a safetensors file");
    std::string text(static_cast<std::size_t>(n), '\0');
    f.read_at(text.data(), text.size(), 8);
    Header header = parse_header(text, path);
    text = std::string();
    check_layout(header.entries, size - 8 - n, path);
    SafetensorsFile out;
    out.metadata = std::move(header.metadata);
    out.tensors.reserve(header.entries.size());
    for (const Entry& e : header.entries) {
      Array a = Array::empty(Shape(e.shape.begin(), e.shape.end()), find_dtype(e.dtype)->dtype);
      if (a.nbytes()) f.read_at(a.mutable_raw_data(), a.nbytes(), 8 + n + e.begin);
      out.tensors.push_back({e.name, std::move(a)});
    }
    return out;
  });
}

void write_safetensors(const std::string& path, const SafetensorsFile& file) {
  std::vector<const NamedTensor*> order;
  std::set<std::string_view> names;
  for (const NamedTensor& t : file.tensors) {
    if (t.value.is_abstract())
      throw CheckpointError(ErrorCode::usage, "writing " + q(path) + ": tensor " + q(t.name) +
                                                  " is abstract (shape and dtype only); save a concrete State");
    if (t.name == "__metadata__")
      throw CheckpointError(ErrorCode::usage, "writing " + q(path) + ": no tensor may be named \"__metadata__\"");
    if (!names.insert(t.name).second)
      throw CheckpointError(ErrorCode::usage, "writing " + q(path) + ": two tensors are named " + q(t.name));
    check_utf8_name(t.name, "writing " + q(path) + ": the tensor name");
    order.push_back(&t);
  }
  for (const auto& [k, v] : file.metadata) {
    check_utf8_name(k, "writing " + q(path) + ": the metadata key");
    check_utf8_name(v, "writing " + q(path) + ": the metadata value");
  }
  std::sort(order.begin(), order.end(), [](const NamedTensor* a, const NamedTensor* b) {
    const int oa = info_of(a->value.dtype()).order, ob = info_of(b->value.dtype()).order;
    return oa != ob ? oa > ob : a->name < b->name;
  });
  std::string header = "{";
  if (!file.metadata.empty()) {
    header += "\"__metadata__\":{";
    bool first = true;
    for (const auto& [k, v] : file.metadata) {
      if (!first) header += ',';
      first = false;
      json::append_string(header, k);
      header += ':';
      json::append_string(header, v);
    }
    header += '}';
  }
  std::uint64_t offset = 0;
  for (const NamedTensor* t : order) {
    if (header.size() > 1) header += ',';
    json::append_string(header, t->name);
    header += ":{\"dtype\":\"";
    header += info_of(t->value.dtype()).name;
    header += "\",\"shape\":[";
    for (std::size_t i = 0; i < t->value.shape().size(); ++i) {
      if (i) header += ',';
      header += std::to_string(t->value.shape()[i]);
    }
    header += "],\"data_offsets\":[" + std::to_string(offset) + ",";
    offset += t->value.nbytes();
    header += std::to_string(offset) + "]}";
  }
  header += '}';
  header.append((8 - header.size() % 8) % 8, ' ');

  const std::filesystem::path target(path);
  const std::string tmp = path + ".nnx-tmp-" + unique_suffix();
  try {
    checkpoint::io::File f = checkpoint::io::File::create(tmp);
    unsigned char prefix[8];
    for (int i = 0; i < 8; ++i) prefix[i] = static_cast<unsigned char>(static_cast<std::uint64_t>(header.size()) >> (8 * i));
    f.write_all(prefix, 8);
    f.write_all(header.data(), header.size());
    for (const NamedTensor* t : order)
      if (t->value.nbytes()) f.write_all(t->value.raw_data(), t->value.nbytes());
    f.sync();
    f.close();
    if (std::rename(tmp.c_str(), path.c_str()) != 0) checkpoint::io::throw_errno("renaming into", path, errno);
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  checkpoint::io::sync_directory(target.has_parent_path() ? target.parent_path().string() : ".");
}

SafetensorsFile to_safetensors(const State& state, const SafetensorsOptions& options) {
  SafetensorsFile file;
  for (const auto& [k, v] : options.metadata) {
    if (k.starts_with("nnx."))
      throw CheckpointError(ErrorCode::usage, "safetensors metadata key " + q(k) +
                                                  ": keys starting with \"nnx.\" are nnx's own (docs/interop.md); use another name");
    file.metadata.emplace(k, v);
  }
  file.metadata.emplace(std::string(kFormatKey), std::string(kSafetensorsFormat));
  std::map<std::string, const Path*> by_name;
  for (const auto& [path, var] : state) {
    std::string name = safetensors_name(path);
    const auto [it, fresh] = by_name.emplace(name, &path);
    if (!fresh)
      throw CheckpointError(ErrorCode::usage, "paths '" + it->second->str() + "' and '" + path.str() +
                                                  "' both have the safetensors name " + q(name) +
                                                  " (keys joined with '.'); rename one of them");
    if (path_from_safetensors_name(name) != path) file.metadata.emplace(std::string(kPathPrefix) + name, path_json(path));
    file.metadata.emplace(std::string(kKindPrefix) + name, var.kind().name());
    if (!var.metadata.empty()) file.metadata.emplace(std::string(kMetaPrefix) + name, metadata_json(var.metadata));
    file.tensors.push_back({std::move(name), var.value});
  }
  return file;
}

State from_safetensors(const SafetensorsFile& file, const std::string& file_name) {
  return checkpoint::guard_read(checkpoint::quoted(file_name), [&] {
    State state;
    const auto format = file.metadata.find(std::string(kFormatKey));
    if (format == file.metadata.end()) {
      for (const auto& [k, v] : file.metadata)
        if (k.starts_with("nnx."))
          throw CheckpointError(ErrorCode::format, q(file_name) + ": the metadata entry " + q(k) +
                                                       " without \"nnx.format\"; the file was edited: remove the nnx.* "
                                                       "entries to load it as plain weights");
      for (const NamedTensor& t : file.tensors) state.set(path_from_safetensors_name(t.name), Param(t.value));
      return state;
    }
    if (format->second != kSafetensorsFormat)
      throw CheckpointError(ErrorCode::format, q(file_name) + ": \"nnx.format\" is " + q(format->second) +
                                                   ", this nnx reads " + q(std::string(kSafetensorsFormat)) +
                                                   "; load it with a newer nnx");
    std::map<std::string, std::string> kinds, paths, metas;
    std::set<std::string> names;
    for (const NamedTensor& t : file.tensors) names.insert(t.name);
    for (const auto& [k, v] : file.metadata) {
      if (!k.starts_with("nnx.") || k == kFormatKey) continue;
      std::map<std::string, std::string>* into = k.starts_with(kKindPrefix)   ? &kinds
                                                 : k.starts_with(kPathPrefix) ? &paths
                                                 : k.starts_with(kMetaPrefix) ? &metas
                                                                              : nullptr;
      if (!into)
        throw CheckpointError(ErrorCode::format, q(file_name) + ": unknown metadata entry " + q(k) +
                                                     " (this nnx knows nnx.format, nnx.kind.*, nnx.path.*, nnx.meta.*); "
                                                     "load it with a newer nnx");
      const std::string name = k.substr(kKindPrefix.size());  // the three prefixes have one length
      if (!names.count(name))
        throw CheckpointError(ErrorCode::corrupted, q(file_name) + ": the metadata entry " + q(k) +
                                                        " names no tensor of the file; the file is damaged");
      into->emplace(name, v);
    }
    for (const NamedTensor& t : file.tensors) {
      const auto kind = kinds.find(t.name);
      if (kind == kinds.end())
        throw CheckpointError(ErrorCode::corrupted, tensor_where(file_name, t.name) +
                                                        ": no \"nnx.kind." + t.name + "\" entry though the file has \"nnx.format\"; the file is damaged");
      Path path = path_from_safetensors_name(t.name);
      if (const auto p = paths.find(t.name); p != paths.end()) {
        path = parse_path_json(p->second, tensor_where(file_name, t.name) + ": nnx.path");
        if (safetensors_name(path) != t.name)
          throw CheckpointError(ErrorCode::corrupted, tensor_where(file_name, t.name) + ": its nnx.path '" + path.str() +
                                                          "' has another name (" + q(safetensors_name(path)) + "); the file is damaged");
      }
      Metadata metadata;
      if (const auto m = metas.find(t.name); m != metas.end()) {
        json::Cursor c(m->second, tensor_where(file_name, t.name) + ": nnx.meta", kNotSafetensors);
        read_string_map(c, metadata, "nnx.meta");
        if (!c.at_end()) c.fail("bytes after the metadata object");
      }
      state.set(path, Variable(Kind::from_name(kind->second), t.value, std::move(metadata)));
    }
    return state;
  });
}

void save_safetensors(const std::string& path, const State& state, const SafetensorsOptions& options) {
  write_safetensors(path, to_safetensors(state, options));
}

State load_safetensors(const std::string& path) { return from_safetensors(read_safetensors(path), path); }

PureDict load_safetensors_dict(const std::string& path) { return PureDict(load_safetensors(path)); }

}  // namespace nnx::interop
