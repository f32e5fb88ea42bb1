// The two conditions every read benchmark (plain read, nnx restore, torch::load, the interop
// loads) is measured under, the same way on every side:
//
//   cold  a process that has just started (every buffer is fresh memory the kernel must fault in)
//         reading a file whose pages were dropped from the page cache: the first restore after a
//         reboot, or of a file written long ago. The read comes from the disk.
//   warm  a steady state inside one process: the file is in the page cache and the memory the
//         read fills was faulted in by an earlier repeat (glibc keeps what is freed, see
//         keep_freed_memory), as when a program restores or loads again and again.
//
// Plain C++ and POSIX only: the libtorch programs include it too.
#pragma once

#include <fcntl.h>
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

namespace bench {

// glibc's malloc neither returns freed memory to the kernel (trimming) nor maps blocks under
// 32 MiB (the most it allows) on their own: a freed buffer is reused, already faulted in. The
// same settings as GLIBC_TUNABLES=glibc.malloc.trim_threshold=-1:glibc.malloc.mmap_threshold=33554432.
inline void keep_freed_memory() {
  mallopt(M_TRIM_THRESHOLD, -1);
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
}

// Writes back and then drops every page of a file, or of every file under a directory, from the
// page cache (clean pages can be dropped: hence the fdatasync first), so the next read is cold.
inline void drop_from_page_cache(const std::string& path) {
  auto drop = [](const std::filesystem::path& file) {
    const int fd = ::open(file.c_str(), O_RDONLY);
    if (fd < 0 || ::fdatasync(fd) != 0 || ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) != 0) std::abort();
    ::close(fd);
  };
  if (!std::filesystem::is_directory(path)) return drop(path);
  for (const auto& entry : std::filesystem::recursive_directory_iterator(path))
    if (entry.is_regular_file()) drop(entry.path());
}

using Clock = std::chrono::steady_clock;
inline double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

// One output line per measurement, parsed by run_bench.py: name, median ms [min, max], MB/s.
inline void report_ms(const char* name, std::vector<double> ms, double mb) {
  std::sort(ms.begin(), ms.end());
  const double median = ms[ms.size() / 2];
  std::printf("%-26s %10.3f ms [%.3f, %.3f]  %8.0f MB/s\n", name, median, ms.front(), ms.back(),
              median > 0 ? mb / (median / 1e3) : 0.0);
}

// The command line the disk benchmarks share: PARAMS DIR MODE [repeats], MODE one of
//   warm [repeats]   every operation, repeated in one process (a first, untimed repeat warms up)
//   write            only writes the files the cold reads read
//   cold WHICH       one cold read (WHICH names it), in this fresh process, of the files `write` left
struct DiskArgs {
  std::int64_t params = 0;
  std::string dir, mode, which;
  int repeats = 5;
};

inline bool parse_disk_args(int argc, char** argv, DiskArgs& a, const char* program, const char* reads) {
  if (argc >= 4) {
    a.params = std::atoll(argv[1]);
    a.dir = argv[2];
    a.mode = argv[3];
    if (a.mode == "warm" && argc > 4) a.repeats = std::atoi(argv[4]);
    if (a.mode == "cold" && argc > 4) a.which = argv[4];
  }
  const bool ok = a.params > 0 && a.repeats > 0 &&
                  (a.mode == "warm" || a.mode == "write" || (a.mode == "cold" && !a.which.empty()));
  if (!ok) std::fprintf(stderr, "usage: %s PARAMS DIR warm [repeats] | write | cold %s\n", program, reads);
  return ok;
}

}  // namespace bench
