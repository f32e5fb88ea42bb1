// The npz container (nnx/interop/npz.hpp) through libzip: a well-kept zip implementation (CRC-32,
// zip64, deflate, consistency checks) that numpy's own zipfile output is known to round-trip with.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <set>

#include "nnx/checkpoint/error.hpp"
#include "nnx/interop/npz.hpp"
#include "nnx/interop/safetensors.hpp"
#include "guard.hpp"
#include "io.hpp"
#include "npy.hpp"

namespace nnx::interop {

namespace {
using checkpoint::CheckpointError;
using checkpoint::ErrorCode;

constexpr std::uint64_t kMaxDeflateRatio = 1100;  // deflate cannot expand beyond ~1,032:1

struct ZipCloser {
  void operator()(zip_t* z) const { zip_discard(z); }
};
using Zip = std::unique_ptr<zip_t, ZipCloser>;

std::string zip_message(int code) {
  zip_error_t e;
  zip_error_init_with_code(&e, code);
  std::string s = zip_error_strerror(&e);
  zip_error_fini(&e);
  return s;
}

[[noreturn]] void fail(ErrorCode code, const std::string& where, const std::string& what) {
  throw CheckpointError(code, "'" + where + "': " + what);
}

std::vector<NamedArray> read_entries(zip_t* z, const std::string& name) {
  const zip_int64_t n = zip_get_num_entries(z, 0);
  std::vector<NamedArray> out;
  std::set<std::string> seen;
  for (zip_int64_t i = 0; i < n; ++i) {
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(z, static_cast<zip_uint64_t>(i), 0, &st) != 0 || !(st.valid & ZIP_STAT_NAME) || !(st.valid & ZIP_STAT_SIZE) ||
        !(st.valid & ZIP_STAT_COMP_SIZE) || !(st.valid & ZIP_STAT_COMP_METHOD))
      fail(ErrorCode::corrupted, name, "entry " + std::to_string(i) + " cannot be examined: " + zip_strerror(z));
    const std::string entry = st.name;
    const std::string where = name + "' entry '" + entry;
    if (entry.size() < 5 || entry.compare(entry.size() - 4, 4, ".npy") != 0)
      fail(ErrorCode::format, where, "not a .npy entry (an npz holds only <name>.npy)");
    const std::uint64_t limit = st.comp_method == ZIP_CM_STORE ? st.comp_size : st.comp_size * kMaxDeflateRatio + 64;
    if (st.comp_method != ZIP_CM_STORE && st.comp_method != ZIP_CM_DEFLATE)
      fail(ErrorCode::format, where, "compression method " + std::to_string(st.comp_method) + "; numpy writes stored or deflate");
    if (st.size > limit)
      fail(ErrorCode::corrupted, where, "claims " + std::to_string(st.size) + " bytes from " + std::to_string(st.comp_size) +
                                            " stored, more than its compression can produce");
    std::unique_ptr<zip_file_t, int (*)(zip_file_t*)> file(zip_fopen_index(z, static_cast<zip_uint64_t>(i), 0), zip_fclose);
    if (!file) fail(ErrorCode::corrupted, where, std::string("cannot be opened: ") + zip_strerror(z));
    const auto read_exactly = [&](void* dst, std::uint64_t bytes) {
      auto* p = static_cast<char*>(dst);
      for (std::uint64_t done = 0; done < bytes;) {
        const zip_int64_t got = zip_fread(file.get(), p + done, bytes - done);
        if (got <= 0) fail(ErrorCode::corrupted, where, std::string("reading failed: ") + zip_file_strerror(file.get()));
        done += static_cast<std::uint64_t>(got);
      }
    };
    // The header first (at most 64 KiB + 12 bytes), then the elements straight into the Array.
    std::string head(static_cast<std::size_t>(std::min<std::uint64_t>(st.size, (64 << 10) + 12)), '\0');
    read_exactly(head.data(), head.size());
    const NpyHeader h = read_npy_header(reinterpret_cast<const unsigned char*>(head.data()), static_cast<std::size_t>(st.size), where + "'");
    Array a = Array::empty(h.shape, h.dtype);
    auto* dst = static_cast<char*>(a.mutable_raw_data());
    const std::size_t in_head = head.size() - h.data_offset;  // elements already read with the header
    std::copy(head.begin() + static_cast<std::ptrdiff_t>(h.data_offset), head.end(), dst);
    read_exactly(dst + in_head, a.nbytes() - in_head);
    char extra;
    if (zip_fread(file.get(), &extra, 1) != 0)  // also makes libzip check the CRC-32 at the end
      fail(ErrorCode::corrupted, where, "holds more bytes than it claims, or its CRC-32 does not match");
    to_native_order(a, h.big_endian);
    std::string key = entry.substr(0, entry.size() - 4);
    if (!seen.insert(key).second) fail(ErrorCode::corrupted, name, "holds '" + key + "' twice");
    out.push_back({std::move(key), std::move(a)});
  }
  return out;
}
}  // namespace

static std::vector<NamedArray> read_npz_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) fail(errno == ENOENT ? ErrorCode::not_found : ErrorCode::io, path, std::string("cannot be opened: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(ErrorCode::format, path, "not a regular file");
  }
  int err = 0;
  Zip z(zip_fdopen(fd, ZIP_RDONLY | ZIP_CHECKCONS, &err));  // owns fd from here on success
  if (!z) {
    ::close(fd);
    fail(ErrorCode::format, path, "not a valid zip (npz) file: " + zip_message(err));
  }
  return read_entries(z.get(), path);
}

static std::vector<NamedArray> read_npz_memory(const void* data, std::size_t size, const std::string& name) {
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* source = zip_source_buffer_create(data, size, 0, &error);
  if (!source) fail(ErrorCode::io, name, zip_error_strerror(&error));
  Zip z(zip_open_from_source(source, ZIP_RDONLY | ZIP_CHECKCONS, &error));
  if (!z) {
    zip_source_free(source);
    const std::string message = zip_error_strerror(&error);
    zip_error_fini(&error);
    fail(ErrorCode::format, name, "not a valid zip (npz) file: " + message);
  }
  zip_error_fini(&error);
  return read_entries(z.get(), name);
}

std::vector<NamedArray> read_npz(const std::string& path) {
  return checkpoint::guard_read(checkpoint::quoted(path), [&] { return read_npz_file(path); });
}

std::vector<NamedArray> read_npz_bytes(const void* data, std::size_t size, const std::string& name) {
  return checkpoint::guard_read(checkpoint::quoted(name), [&] { return read_npz_memory(data, size, name); });
}

void write_npz(const std::string& path, const std::vector<NamedArray>& arrays) {
  std::set<std::string> names;
  for (const auto& a : arrays) {
    if (a.name.empty() || !names.insert(a.name).second)
      throw CheckpointError(ErrorCode::usage, "write_npz: the name '" + a.name + "' is empty or given twice");
    if (a.array.is_abstract()) throw CheckpointError(ErrorCode::usage, "write_npz: '" + a.name + "' is abstract (no values)");
  }
  const std::string tmp = path + ".nnx-tmp-" + std::to_string(::getpid());
  std::remove(tmp.c_str());
  int err = 0;
  Zip z(zip_open(tmp.c_str(), ZIP_CREATE | ZIP_EXCL, &err));
  if (!z) fail(ErrorCode::io, tmp, "cannot be created: " + zip_message(err));
  std::vector<std::string> headers;  // must live until zip_close: the sources point into them
  headers.reserve(arrays.size());
  for (const auto& a : arrays) {
    headers.push_back(npy_header(a.array));
    // Two fragments, header and the Array's own buffer: the elements are not copied.
    const zip_buffer_fragment_t fragments[2] = {
        {reinterpret_cast<zip_uint8_t*>(headers.back().data()), headers.back().size()},
        {static_cast<zip_uint8_t*>(const_cast<void*>(a.array.raw_data())), a.array.nbytes()}};
    zip_error_t error;
    zip_error_init(&error);
    zip_source_t* source = zip_source_buffer_fragment_create(fragments, a.array.nbytes() ? 2 : 1, 0, &error);
    const zip_int64_t index = source ? zip_file_add(z.get(), (a.name + ".npy").c_str(), source, ZIP_FL_ENC_UTF_8) : -1;
    if (index < 0) {
      if (source) zip_source_free(source);
      std::remove(tmp.c_str());
      fail(ErrorCode::io, tmp, "cannot add '" + a.name + "': " + zip_strerror(z.get()));
    }
    zip_set_file_compression(z.get(), static_cast<zip_uint64_t>(index), ZIP_CM_STORE, 0);  // as numpy.savez
  }
  if (arrays.empty()) {  // libzip writes no file for an empty archive; numpy.savez() writes the 22-byte end record
    z.reset();
    static const char kEmptyZip[22] = {'P', 'K', 5, 6};
    checkpoint::io::write_file_durably(tmp, std::string(kEmptyZip, sizeof kEmptyZip));
  } else if (zip_close(z.get()) != 0) {
    const std::string message = zip_strerror(z.get());
    std::remove(tmp.c_str());
    fail(ErrorCode::io, tmp, "cannot be written: " + message);
  }
  (void)z.release();  // zip_close freed it (or it was discarded above)
  const int fd = ::open(tmp.c_str(), O_RDONLY | O_CLOEXEC);
  const bool synced = fd >= 0 && ::fsync(fd) == 0;
  if (fd >= 0) ::close(fd);
  if (!synced || ::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    fail(ErrorCode::io, path, std::string("cannot be put in place: ") + std::strerror(errno));
  }
  const std::filesystem::path target(path);
  checkpoint::io::sync_directory(target.has_parent_path() ? target.parent_path().string() : ".");
}

void save_npz(const std::string& path, const State& state) {
  std::vector<NamedArray> arrays;
  std::set<std::string> names;
  for (const auto& [p, var] : state) {
    std::string name = safetensors_name(p);
    if (!names.insert(name).second)
      throw CheckpointError(ErrorCode::usage, "save_npz: two paths have the name '" + name + "' (" + p.str() +
                                                  " is one); rename one, or save as safetensors, which records paths");
    arrays.push_back({std::move(name), var.value});
  }
  write_npz(path, arrays);
}

State load_npz(const std::string& path) {
  State state;
  for (auto& a : read_npz(path)) {
    const Path p = path_from_safetensors_name(a.name);
    if (state.contains(p)) fail(ErrorCode::corrupted, path, "two entries give the path " + p.str());
    state.set(p, Param(std::move(a.array)));
  }
  return state;
}

}  // namespace nnx::interop
