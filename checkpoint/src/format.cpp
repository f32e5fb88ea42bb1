// The array file. Layout (docs/checkpoint-format.md has it field by field):
//   header  : cereal portable binary, little-endian: u8 endianness flag (1), u64 magic "NNXARRAY",
//             u32 format version, u32 flags (0)
//   data    : each array's bytes, little-endian elements, back to back in index order
//   index   : a second cereal archive: u8 flag, u64 entry count, entries (see write_entry)
//   footer  : u64 index offset, u64 index size, u64 XXH3-64 of the index, u64 magic "NNXA_END"
#include "nnx/checkpoint/format.hpp"

#include <algorithm>
#include <bit>
#include <cereal/archives/portable_binary.hpp>
#include <cstring>
#include <sstream>
#include <vector>

#include "format_version.hpp"
#include "guard.hpp"
#include "io.hpp"
#include "metadata.hpp"

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace nnx::checkpoint {

namespace {
constexpr std::uint64_t kMagic = 0x5941525241584E4EULL;     // "NNXARRAY" read as little-endian u64
constexpr std::uint64_t kEndMagic = 0x444E455F41584E4EULL;  // "NNXA_END"
constexpr std::uint64_t kHeaderSize = 1 + 8 + 4 + 4;
constexpr std::uint64_t kFooterSize = 4 * 8;
constexpr std::uint64_t kMinEntrySize = 4 + 4 + 4 + 1 + 1 + 3 * 8;
constexpr std::uint32_t kMaxString = 1 << 20;  // a path key, kind or metadata string
constexpr std::size_t kChunk = 512 << 10;      // read and hashed in chunks that stay in the L2 cache

using Out = cereal::PortableBinaryOutputArchive;
using In = cereal::PortableBinaryInputArchive;

void write_string(Out& ar, const std::string& s) {
  if (s.size() > kMaxString) throw CheckpointError(ErrorCode::usage, "a string of " + std::to_string(s.size()) + " bytes is too long to store");
  ar(static_cast<std::uint32_t>(s.size()));
  ar(cereal::binary_data(s.data(), s.size()));
}

void write_entry(Out& ar, const ArrayEntry& e) {
  ar(static_cast<std::uint32_t>(e.path.size()));
  for (const PathKey& k : e.path) {
    ar(static_cast<std::uint8_t>(k.is_index() ? 1 : 0));
    if (k.is_index())
      ar(static_cast<std::int64_t>(k.index()));
    else
      write_string(ar, k.name());
  }
  write_string(ar, e.kind);
  ar(static_cast<std::uint32_t>(e.metadata.size()));
  for (const auto& [key, value] : e.metadata) {
    write_string(ar, key);
    write_string(ar, value);
  }
  ar(static_cast<std::uint8_t>(e.dtype));
  ar(static_cast<std::uint8_t>(e.shape.size()));
  for (std::int64_t d : e.shape) ar(d);
  ar(e.offset, e.nbytes, e.checksum);
}

// Reads the index with every length checked against what is left of it.
class IndexParser {
 public:
  IndexParser(const std::string& file, const char* data, std::size_t n) : file_(file), buf_(data, n), stream_(&buf_), ar_(stream_) {}

  template <class T> T read() {
    need(sizeof(T), "a field");
    T v{};
    ar_(v);
    return v;
  }
  std::string read_string(const char* what) {
    const auto n = read<std::uint32_t>();
    if (n > kMaxString) corrupt(std::string(what) + " claims " + std::to_string(n) + " bytes, more than any nnx string");
    need(n, what);
    std::string s(n, '\0');
    ar_(cereal::binary_data(s.data(), n));
    return s;
  }
  std::size_t remaining() const { return buf_.remaining(); }
  [[noreturn]] void corrupt(const std::string& what) const {
    throw CheckpointError(ErrorCode::corrupted, "'" + file_ + "': the index is corrupted: " + what +
                                                    "; restore an earlier step");
  }

 private:
  void need(std::size_t n, const char* what) const {
    if (n > buf_.remaining())
      corrupt(std::string(what) + " needs " + std::to_string(n) + " bytes but only " + std::to_string(buf_.remaining()) +
              " are left");
  }
  std::string file_;
  io::MemoryReadBuffer buf_;
  std::istream stream_;
  In ar_;
};

template <class T> void swap_bytes_if_big_endian(Array& a) {
  if constexpr (std::endian::native == std::endian::big) {
    T* p = a.mutable_data<T>();
    for (std::int64_t i = 0; i < a.numel(); ++i) {
      auto* b = reinterpret_cast<unsigned char*>(p + i);
      std::reverse(b, b + sizeof(T));
    }
  } else {
    (void)a;
  }
}
}  // namespace

std::uint64_t checksum(const void* data, std::size_t n) { return XXH3_64bits(data, n); }
std::uint64_t xxh3(const std::string& bytes) { return XXH3_64bits(bytes.data(), bytes.size()); }  // metadata.hpp

std::uint64_t write_array_file(const std::string& path, const State& state) { return write_array_file_digest(path, state).size; }

FileDigest write_array_file_digest(const std::string& path, const State& state) {
  for (const auto& [p, var] : state)  // before the file exists: a refused State leaves nothing behind
    if (var.value.is_abstract())
      throw CheckpointError(ErrorCode::usage, "cannot save '" + p.str() + "': it is abstract (" + var.value.shape_dtype().str() +
                                                  "); save a State with values, not an eval_shape target");
  ArrayIndex index;
  std::uint64_t index_sum = 0;
  io::File file = io::File::create(path);
  {
    io::FileWriteBuffer buffer(file);
    std::ostream stream(&buffer);
    Out ar(stream, Out::Options::LittleEndian());
    ar(kMagic, kArrayFormatVersion, std::uint32_t{0});
    for (const auto& [p, var] : state) {
      const Array& a = var.value;
      ArrayEntry e{p, var.kind().name(), var.metadata, a.dtype(), a.shape(), buffer.position(), a.nbytes(), 0};
      e.checksum = checksum(a.raw_data(), a.nbytes());
      switch (a.dtype()) {  // typed, so cereal converts the byte order on big-endian hosts
        case DType::float32: ar(cereal::binary_data(a.data<float>(), a.nbytes())); break;
        case DType::float64: ar(cereal::binary_data(a.data<double>(), a.nbytes())); break;
        case DType::int32: ar(cereal::binary_data(a.data<std::int32_t>(), a.nbytes())); break;
        case DType::int64: ar(cereal::binary_data(a.data<std::int64_t>(), a.nbytes())); break;
        case DType::uint32: ar(cereal::binary_data(a.data<std::uint32_t>(), a.nbytes())); break;
      }
      index.entries.push_back(std::move(e));
    }
    std::ostringstream index_stream;
    {
      Out index_ar(index_stream, Out::Options::LittleEndian());
      index_ar(static_cast<std::uint64_t>(index.entries.size()));
      for (const auto& e : index.entries) write_entry(index_ar, e);
    }
    const std::string index_bytes = index_stream.str();
    const std::uint64_t index_offset = buffer.position();
    ar(cereal::binary_data(index_bytes.data(), index_bytes.size()));
    index_sum = checksum(index_bytes.data(), index_bytes.size());
    ar(index_offset, static_cast<std::uint64_t>(index_bytes.size()), index_sum, kEndMagic);
    buffer.flush_all();
  }
  const std::uint64_t size = file.size();
  file.sync();
  file.close();
  return {size, index_sum};
}

namespace {
// The steps of opening an array file, in order; each throws CheckpointError naming the file.
struct Footer {
  std::uint64_t index_offset = 0, index_size = 0, index_sum = 0;
};

// An empty array file is a header and a footer: anything shorter cannot be one.
void check_minimum_size(const std::string& path, std::uint64_t size) {
  if (size < kHeaderSize + kFooterSize)
    throw CheckpointError(ErrorCode::truncated, "'" + path + "' is truncated: " + std::to_string(size) +
                                                    " bytes, less than the " + std::to_string(kHeaderSize + kFooterSize) +
                                                    " of an empty nnx array file; restore an earlier step");
}

// Checks the endianness flag, the magic number and the version; returns the version.
std::uint32_t read_header(const io::File& f) {
  const std::string& path = f.path();
  char header[kHeaderSize];
  f.read_at(header, kHeaderSize, 0);
  if (header[0] != 1)
    throw CheckpointError(ErrorCode::format, "'" + path + "' is not an nnx array file (its first byte is " +
                                                 std::to_string(static_cast<int>(static_cast<unsigned char>(header[0]))) +
                                                 ", expected 1); check the path");
  std::uint64_t magic = 0;
  std::uint32_t version = 0, flags = 0;
  {
    io::MemoryReadBuffer buf(header, kHeaderSize);
    std::istream s(&buf);
    In ar(s);
    ar(magic, version, flags);
  }
  if (magic != kMagic)
    throw CheckpointError(ErrorCode::format, "'" + path + "' is not an nnx array file (wrong magic number); check the path");
  check_format_version("'" + path + "'", version, kArrayFormatVersion);
  // Reserved: nnx writes 0. Any other value is a flipped byte, and no flipped byte is accepted.
  if (flags != 0)
    throw CheckpointError(ErrorCode::corrupted, "'" + path + "': the reserved header field (bytes 13-16) holds " +
                                                    std::to_string(flags) + ", nnx writes 0; the file is damaged; restore an earlier step");
  return version;
}

// Checks the end marker and that the footer points at the bytes between the data and itself.
Footer read_footer(const io::File& f, std::uint64_t size) {
  const std::string& path = f.path();
  char footer[kFooterSize];
  f.read_at(footer, kFooterSize, size - kFooterSize);
  Footer out;
  std::uint64_t end_magic = 0;
  {
    std::string footer_stream(1, '\1');  // the footer is written by the header's archive: no flag byte of its own
    footer_stream.append(footer, kFooterSize);
    io::MemoryReadBuffer buf(footer_stream.data(), footer_stream.size());
    std::istream s(&buf);
    In ar(s);
    ar(out.index_offset, out.index_size, out.index_sum, end_magic);
  }
  if (end_magic != kEndMagic)
    throw CheckpointError(ErrorCode::truncated, "'" + path + "' is truncated or was not completely written (no end marker in its last " +
                                                    std::to_string(kFooterSize) + " bytes); restore an earlier step");
  if (out.index_offset < kHeaderSize || out.index_size > size - kHeaderSize - kFooterSize ||
      out.index_offset != size - kFooterSize - out.index_size)
    throw CheckpointError(ErrorCode::corrupted, "'" + path + "': the footer points outside the file (index at " +
                                                    std::to_string(out.index_offset) + ", " + std::to_string(out.index_size) +
                                                    " bytes, file " + std::to_string(size) + " bytes); restore an earlier step");
  return out;
}

// The index's bytes, their checksum verified and their archive flag checked.
// The index is hashed in chunks before any buffer of its claimed size is allocated: a footer that
// claims a huge index (a sparse file, say: the size is "there" but holds zeros) costs one chunk of
// memory and a read, never an allocation of the claimed size. Memory bound: kChunk, then the
// index itself only once its checksum matched.
std::string read_verified_index(const io::File& f, const Footer& footer) {
  const std::string& path = f.path();
  {
    std::vector<char> chunk(static_cast<std::size_t>(std::min<std::uint64_t>(footer.index_size, kChunk)));
    XXH3_state_t state;
    XXH3_64bits_reset(&state);
    for (std::uint64_t done = 0; done < footer.index_size;) {
      const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(footer.index_size - done, kChunk));
      f.read_at(chunk.data(), n, footer.index_offset + done);
      XXH3_64bits_update(&state, chunk.data(), n);
      done += n;
    }
    if (XXH3_64bits_digest(&state) != footer.index_sum)
      throw CheckpointError(ErrorCode::corrupted, "'" + path + "': the index checksum does not match; the file is damaged; "
                                                               "restore an earlier step");
  }
  std::string bytes(static_cast<std::size_t>(footer.index_size), '\0');
  f.read_at(bytes.data(), bytes.size(), footer.index_offset);
  if (checksum(bytes.data(), bytes.size()) != footer.index_sum)  // changed between the two reads
    throw CheckpointError(ErrorCode::corrupted, "'" + path + "': the index changed while it was read; the file is damaged "
                                                             "or being written; restore an earlier step");
  if (bytes.size() < 1 + 8 || bytes[0] != 1)
    throw CheckpointError(ErrorCode::corrupted, "'" + path + "': the index is corrupted: no valid header; restore an earlier step");
  return bytes;
}

Path parse_path(IndexParser& p) {
  const auto keys = p.read<std::uint32_t>();
  if (keys > p.remaining()) p.corrupt("a path claims " + std::to_string(keys) + " keys");
  std::vector<PathKey> path_keys;
  for (std::uint32_t k = 0; k < keys; ++k) {
    const auto tag = p.read<std::uint8_t>();
    if (tag == 1)
      path_keys.emplace_back(p.read<std::int64_t>());
    else if (tag == 0)
      path_keys.emplace_back(p.read_string("a path key"));
    else
      p.corrupt("a path key has type tag " + std::to_string(tag));
  }
  return Path(std::move(path_keys));
}

Metadata parse_metadata(IndexParser& p) {
  Metadata metadata;
  const auto count = p.read<std::uint32_t>();
  if (count > p.remaining() / 8) p.corrupt("a metadata count of " + std::to_string(count));
  for (std::uint32_t m = 0; m < count; ++m) {
    std::string key = p.read_string("a metadata key");
    metadata[key] = p.read_string("a metadata value");
  }
  return metadata;
}

// One entry as stored, its dtype, rank and dimensions checked (not yet its place in the file).
ArrayEntry parse_entry(IndexParser& p) {
  ArrayEntry e;
  e.path = parse_path(p);
  e.kind = p.read_string("a kind name");
  e.metadata = parse_metadata(p);
  const auto dtype = p.read<std::uint8_t>();
  if (dtype > static_cast<std::uint8_t>(DType::uint32)) p.corrupt(e.path.str() + " has dtype code " + std::to_string(dtype));
  e.dtype = static_cast<DType>(dtype);
  const auto rank = p.read<std::uint8_t>();
  if (rank > Shape::max_rank) p.corrupt(e.path.str() + " has rank " + std::to_string(rank));
  for (std::uint8_t d = 0; d < rank; ++d) {
    const auto dim = p.read<std::int64_t>();
    if (dim < 0) p.corrupt(e.path.str() + " has a negative dimension");
    e.shape.push_back(dim);
  }
  e.offset = p.read<std::uint64_t>();
  e.nbytes = p.read<std::uint64_t>();
  e.checksum = p.read<std::uint64_t>();
  return e;
}

// The data must be exactly the shape's bytes, inside the data section, right after the previous.
void check_entry_layout(const IndexParser& p, const ArrayEntry& e, std::uint64_t expected_offset, std::uint64_t index_offset) {
  std::uint64_t expect_bytes = dtype_size(e.dtype);
  for (std::int64_t d : e.shape) {
    if (d != 0 && expect_bytes > index_offset / static_cast<std::uint64_t>(d))
      p.corrupt(e.path.str() + " has shape " + shape_string(e.shape) + ", larger than the file");
    expect_bytes *= static_cast<std::uint64_t>(d);
  }
  if (e.nbytes != expect_bytes || e.offset != expected_offset || e.offset + e.nbytes > index_offset)
    p.corrupt(e.path.str() + " claims " + std::to_string(e.nbytes) + " bytes at offset " + std::to_string(e.offset) + " for " +
              ShapeDtype{e.shape, e.dtype}.str() + "; they do not fit the data section");
}

// Every entry, in sorted path order, the arrays covering the data section exactly.
std::vector<ArrayEntry> parse_index(const std::string& path, const std::string& bytes, std::uint64_t index_offset) {
  IndexParser p(path, bytes.data(), bytes.size());
  const auto count = p.read<std::uint64_t>();
  if (count > p.remaining() / kMinEntrySize) p.corrupt("it claims " + std::to_string(count) + " arrays, more than fit in it");
  std::vector<ArrayEntry> entries;
  entries.reserve(static_cast<std::size_t>(count));
  std::uint64_t expected_offset = kHeaderSize;
  for (std::uint64_t i = 0; i < count; ++i) {
    ArrayEntry e = parse_entry(p);
    check_entry_layout(p, e, expected_offset, index_offset);
    expected_offset = e.offset + e.nbytes;
    if (!entries.empty() && !(entries.back().path < e.path)) p.corrupt("paths are not in sorted order at " + e.path.str());
    entries.push_back(std::move(e));
  }
  if (expected_offset != index_offset) p.corrupt("the arrays do not cover the data section");
  if (p.remaining() != 0) p.corrupt(std::to_string(p.remaining()) + " unexplained bytes after the last entry");
  return entries;
}
}  // namespace

struct ArrayFileReader::Impl {
  io::File file;
};

ArrayFileReader::ArrayFileReader(const std::string& path) : impl_(new Impl{io::File::open_read(path)}) {
  try {
    guard_read(quoted(path), [&] {
      const io::File& f = impl_->file;
      size_ = f.size();
      check_minimum_size(path, size_);
      index_.format_version = read_header(f);
      const Footer footer = read_footer(f, size_);
      index_.entries = parse_index(path, read_verified_index(f, footer), footer.index_offset);
      index_.checksum = footer.index_sum;
    });
  } catch (...) {
    delete impl_;
    throw;
  }
}

ArrayFileReader::ArrayFileReader(ArrayFileReader&& o) noexcept : impl_(o.impl_), index_(std::move(o.index_)), size_(o.size_) {
  o.impl_ = nullptr;
}

ArrayFileReader::~ArrayFileReader() { delete impl_; }

const std::string& ArrayFileReader::path() const { return impl_->file.path(); }

void ArrayFileReader::read_into(const ArrayEntry& e, Array& dst) const {
  if (dst.is_abstract() || dst.dtype() != e.dtype || !(dst.shape() == e.shape))
    throw CheckpointError(ErrorCode::usage, "read_into " + e.path.str() + ": the destination is " + dst.shape_dtype().str() +
                                                (dst.is_abstract() ? " (abstract)" : "") + ", expected " +
                                                ShapeDtype{e.shape, e.dtype}.str());
  auto* out = static_cast<char*>(dst.mutable_raw_data());
  XXH3_state_t state;
  XXH3_64bits_reset(&state);
  for (std::uint64_t done = 0; done < e.nbytes;) {
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, e.nbytes - done));
    impl_->file.read_at(out + done, n, e.offset + done);
    XXH3_64bits_update(&state, out + done, n);  // while the chunk is still in cache
    done += n;
  }
  const std::uint64_t sum = XXH3_64bits_digest(&state);
  if (sum != e.checksum) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "(stored %016llx, computed %016llx)", static_cast<unsigned long long>(e.checksum),
                  static_cast<unsigned long long>(sum));
    throw CheckpointError(ErrorCode::corrupted, "'" + path() + "': array '" + e.path.str() + "' is corrupted: its checksum does not match " +
                                                    buf + "; the file was damaged after it was written; restore an earlier step");
  }
  switch (e.dtype) {
    case DType::float32: swap_bytes_if_big_endian<float>(dst); break;
    case DType::float64: swap_bytes_if_big_endian<double>(dst); break;
    case DType::int32: swap_bytes_if_big_endian<std::int32_t>(dst); break;
    case DType::int64: swap_bytes_if_big_endian<std::int64_t>(dst); break;
    case DType::uint32: swap_bytes_if_big_endian<std::uint32_t>(dst); break;
  }
}

Array ArrayFileReader::read(const ArrayEntry& e) const {
  return guard_read("array '" + e.path.str() + "' of '" + path() + "'", [&] {
    Array a = Array::empty(e.shape, e.dtype);
    read_into(e, a);
    return a;
  });
}

State ArrayFileReader::read_all() const {
  return guard_read(quoted(path()), [&] {
    State s;
    for (const auto& e : index_.entries) s.set(e.path, Variable(Kind::from_name(e.kind), read(e), e.metadata));
    return s;
  });
}

std::vector<std::string> ArrayFileReader::verify() const {
  std::vector<std::string> failures;
  for (const auto& e : index_.entries) {
    try {
      read(e);
    } catch (const CheckpointError& err) {
      failures.push_back(err.what());
    }
  }
  return failures;
}

}  // namespace nnx::checkpoint
