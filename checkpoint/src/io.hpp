// Internal: POSIX file access with the guarantees checkpoints need — every write checked, fsync of
// files and directories, errors that name the file and the operating system's reason.
#pragma once

#include <cstdint>
#include <streambuf>
#include <string>
#include <vector>

#include "nnx/checkpoint/error.hpp"

namespace nnx::checkpoint::io {

[[noreturn]] void throw_errno(const std::string& what, const std::string& path, int err);

class File {
 public:
  static File create(const std::string& path);  // new file, fails if it exists
  // Opens an existing regular file for reading, never blocking and never following a symbolic link:
  // a symlink, FIFO, directory, socket or device at `path` is a CheckpointError (corrupted) naming
  // the path and what is there. Every checkpoint reader opens its files through this.
  static File open_read(const std::string& path);
  File(File&& o) noexcept : fd_(o.fd_), path_(std::move(o.path_)) { o.fd_ = -1; }
  File& operator=(File&&) = delete;
  ~File();

  void write_all(const void* data, std::size_t n);
  // Reads exactly n bytes at `offset`; a short read is a truncation error naming the file.
  void read_at(void* data, std::size_t n, std::uint64_t offset) const;
  std::uint64_t size() const;
  void sync();  // fsync: data and metadata on stable storage
  void close();
  const std::string& path() const { return path_; }
  int fd() const { return fd_; }

 private:
  File(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_;
  std::string path_;
};

// What kind of file a stat mode describes, for messages: "a FIFO (named pipe)", "a directory", ...
const char* file_type_name(unsigned mode);

void sync_directory(const std::string& path);
void write_file_durably(const std::string& path, const std::string& contents);  // create, write, fsync
std::string read_small_file(const std::string& path, std::uint64_t max_bytes);

// A std::streambuf writing to a File through a buffer; large writes go straight to the file.
class FileWriteBuffer : public std::streambuf {
 public:
  explicit FileWriteBuffer(File& file, std::size_t capacity = 1 << 20);
  ~FileWriteBuffer() override = default;
  void flush_all();
  std::uint64_t position() const { return written_ + static_cast<std::uint64_t>(pptr() - pbase()); }

 protected:
  int_type overflow(int_type ch) override;
  std::streamsize xsputn(const char* s, std::streamsize n) override;
  int sync() override;

 private:
  File& file_;
  std::vector<char> buffer_;
  std::uint64_t written_ = 0;
};

// A std::streambuf over bytes in memory (for parsing an index already read and verified).
class MemoryReadBuffer : public std::streambuf {
 public:
  MemoryReadBuffer(const char* data, std::size_t n) {
    char* p = const_cast<char*>(data);
    setg(p, p, p + n);
  }
  std::size_t remaining() const { return static_cast<std::size_t>(egptr() - gptr()); }
};

}  // namespace nnx::checkpoint::io
