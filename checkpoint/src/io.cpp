#include "io.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace nnx::checkpoint::io {

namespace {
std::string remedy_for(int err) {
  switch (err) {
    case ENOSPC:
    case EDQUOT: return "free disk space or save to another directory; earlier steps are intact";
    case EACCES:
    case EPERM: return "check the directory's permissions, or save somewhere you may write";
    case EROFS: return "the filesystem is read-only; save to another directory";
    case EFBIG: return "the file exceeds the size limit of this process or filesystem; earlier steps are intact";
    default: return "check the directory and try again; earlier steps are intact";
  }
}
}  // namespace

void throw_errno(const std::string& what, const std::string& path, int err) {
  const ErrorCode code = err == ENOENT ? ErrorCode::not_found : ErrorCode::io;
  throw CheckpointError(code, what + " '" + path + "' failed: " + std::strerror(err) + "; " + remedy_for(err));
}

File File::create(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) throw_errno("creating", path, errno);
  return File(fd, path);
}

const char* file_type_name(unsigned mode) {
  switch (mode & S_IFMT) {
    case S_IFREG: return "a regular file";
    case S_IFDIR: return "a directory";
    case S_IFLNK: return "a symbolic link";
    case S_IFIFO: return "a FIFO (named pipe)";
    case S_IFSOCK: return "a socket";
    case S_IFCHR: return "a character device";
    case S_IFBLK: return "a block device";
    default: return "a special file";
  }
}

File File::open_read(const std::string& path) {
  // O_NOFOLLOW: a symbolic link in the last component fails (ELOOP) instead of being followed.
  // O_NONBLOCK: opening a FIFO returns at once instead of waiting for a writer; the type check
  // below then refuses it, and the flag is cleared before anything is read.
  const auto not_regular = [&](unsigned mode) {
    return CheckpointError(ErrorCode::corrupted, "'" + path + "' is " + file_type_name(mode) +
                                                     ", not a regular file; remove it and restore an earlier step");
  };
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == ELOOP)
      throw CheckpointError(ErrorCode::corrupted, "'" + path + "' is a symbolic link, not a regular file; a checkpoint "
                                                  "holds its files itself: replace the link with the file, or restore "
                                                  "an earlier step");
    // A socket (ENXIO) or a device cannot be opened at all: say what is there, not the errno.
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) throw not_regular(st.st_mode);
    throw_errno("opening", path, err);
  }
  File f(fd, path);  // closes the descriptor on every throw below
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw_errno("examining", path, errno);
  if (!S_ISREG(st.st_mode)) throw not_regular(st.st_mode);
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) throw_errno("opening", path, errno);
  return f;
}

File::~File() {
  if (fd_ >= 0) ::close(fd_);
}

void File::write_all(const void* data, std::size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::write(fd_, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      throw_errno("writing", path_, errno);
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}

void File::read_at(void* data, std::size_t n, std::uint64_t offset) const {
  char* p = static_cast<char*>(data);
  std::size_t done = 0;
  while (done < n) {
    ssize_t r = ::pread(fd_, p + done, n - done, static_cast<off_t>(offset + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      throw_errno("reading", path_, errno);
    }
    if (r == 0)
      throw CheckpointError(ErrorCode::truncated,
                            "'" + path_ + "' is truncated: expected " + std::to_string(n) + " bytes at offset " +
                                std::to_string(offset) + ", the file ends after " + std::to_string(done) +
                                "; restore an earlier step");
    done += static_cast<std::size_t>(r);
  }
}

std::uint64_t File::size() const {
  struct stat st {};
  if (::fstat(fd_, &st) != 0) throw_errno("examining", path_, errno);
  return static_cast<std::uint64_t>(st.st_size);
}

void File::sync() {
  if (::fsync(fd_) != 0) throw_errno("flushing (fsync)", path_, errno);
}

void File::close() {
  if (fd_ < 0) return;
  int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) throw_errno("closing", path_, errno);
}

void sync_directory(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw_errno("opening directory", path, errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) throw_errno("flushing (fsync) directory", path, err);
}

void write_file_durably(const std::string& path, const std::string& contents) {
  File f = File::create(path);
  f.write_all(contents.data(), contents.size());
  f.sync();
  f.close();
}

std::string read_small_file(const std::string& path, std::uint64_t max_bytes) {
  File f = File::open_read(path);
  const std::uint64_t n = f.size();
  if (n > max_bytes)
    throw CheckpointError(ErrorCode::corrupted, "'" + path + "' is " + std::to_string(n) + " bytes, more than the " +
                                                    std::to_string(max_bytes) + " such a file may have");
  std::string s(static_cast<std::size_t>(n), '\0');
  f.read_at(s.data(), s.size(), 0);
  return s;
}

FileWriteBuffer::FileWriteBuffer(File& file, std::size_t capacity) : file_(file), buffer_(capacity) {
  setp(buffer_.data(), buffer_.data() + buffer_.size());
}

void FileWriteBuffer::flush_all() {
  const auto n = static_cast<std::size_t>(pptr() - pbase());
  if (n) file_.write_all(pbase(), n);
  written_ += n;
  setp(buffer_.data(), buffer_.data() + buffer_.size());
}

FileWriteBuffer::int_type FileWriteBuffer::overflow(int_type ch) {
  flush_all();
  if (!traits_type::eq_int_type(ch, traits_type::eof())) {
    *pptr() = traits_type::to_char_type(ch);
    pbump(1);
  }
  return traits_type::not_eof(ch);
}

std::streamsize FileWriteBuffer::xsputn(const char* s, std::streamsize n) {
  const auto count = static_cast<std::size_t>(n);
  if (count >= buffer_.size() / 2) {  // large: straight from the caller's memory, no copy
    flush_all();
    file_.write_all(s, count);
    written_ += count;
    return n;
  }
  if (count > static_cast<std::size_t>(epptr() - pptr())) flush_all();
  std::memcpy(pptr(), s, count);
  pbump(static_cast<int>(count));
  return n;
}

int FileWriteBuffer::sync() {
  flush_all();
  return 0;
}

}  // namespace nnx::checkpoint::io
