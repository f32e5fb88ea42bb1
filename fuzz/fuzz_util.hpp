// Shared by the fuzz targets: a private scratch directory per process, writing a file without
// following links, the expansion that lets short inputs reach deep JSON, and the rule that only
// nnx's own, documented errors may escape a reader of untrusted bytes.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>

namespace fuzz {

inline const std::filesystem::path& scratch() {
  static const std::filesystem::path dir = [] {
    auto d = std::filesystem::temp_directory_path() / ("nnx-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}

// Best effort: a harness building odd directory trees may ask for a path that cannot be a file.
// Never follows a symbolic link (a fuzzed tree may hold some): nothing outside scratch() is written.
inline void write_file(const std::filesystem::path& path, const void* data, std::size_t size) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644);
  if (fd < 0) return;
  for (auto* p = static_cast<const char*>(data); size > 0;) {
    const ssize_t w = ::write(fd, p, size);
    if (w <= 0) break;
    p += w;
    size -= static_cast<std::size_t>(w);
  }
  ::close(fd);
}

// A reader's error must say where: a message that does not contain `where` (the file, or the
// directory it is in) is a bug, reported and trapped.
inline void check_names(std::string_view message, const std::string& where) {
  if (message.find(where) != std::string_view::npos) return;
  std::fprintf(stderr, "an error does not name '%s': %.*s\n", where.c_str(), static_cast<int>(message.size()), message.data());
  __builtin_trap();
}

// Depth from few bytes. libFuzzer inputs stay small (-max_len=65536), which never reaches the
// ~140,000 nested '[' that once overflowed rapidjson's stack; mutating towards them byte by byte is
// hopeless anyway. So JSON text given to a reader is first expanded:
//   0x01 N L t_1..t_L   (L = 1..8)  ->  t_1..t_L repeated (N + 1) * 1000 times
// every other byte is copied as is, and so is an 0x01 not followed by a complete run. 0x01 is a
// control character, never valid in JSON text, so the expansion hides no valid input; seeds hold
// runs of '[', '{"a":', digits and quotes. The result is capped at kMaxExpanded bytes (above
// _METADATA.json's 1 MiB limit, so both sides of that check are reached).
inline constexpr std::size_t kMaxExpanded = 2 << 20;

inline std::string expand(const std::uint8_t* data, std::size_t size) {
  std::string out;
  for (std::size_t i = 0; i < size && out.size() < kMaxExpanded; ++i) {
    const std::size_t len = i + 2 < size ? data[i + 2] : 0;
    if (data[i] != 0x01 || len < 1 || len > 8 || i + 3 + len > size) {
      out += static_cast<char>(data[i]);
      continue;
    }
    const std::string token(reinterpret_cast<const char*>(data + i + 3), len);
    for (std::size_t r = (data[i + 1] + 1u) * 1000; r > 0 && out.size() < kMaxExpanded; --r) out += token;
    i += 2 + len;
  }
  out.resize(std::min(out.size(), kMaxExpanded));
  return out;
}

// The run that expand() turns into `token` repeated `thousands` * 1000 times (1..256), for seeds.
inline std::string run(const std::string& token, unsigned thousands) {
  return std::string{'\x01', static_cast<char>(thousands - 1), static_cast<char>(token.size())} + token;
}

}  // namespace fuzz
