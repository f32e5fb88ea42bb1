// tests/checkpoint/subprocess.hpp — child processes for the checkpoint tests.
//
//   nnx_test::Child child({NNX_CRASH_CHILD, dir, "100000"});   // posix_spawn, stdout/stderr piped
//   child.pump_for(std::chrono::milliseconds(50));            // collect output meanwhile
//   nnx_test::Finished f = child.kill_and_wait();               // SIGKILL, reap, read what is left
//
//   nnx_test::Finished f = nnx_test::run({NNX_CKPT_TOOL, "list", dir});   // to completion
//
//   // fork(): `fn` runs in a child process (setrlimit, setuid, ... stay there); it returns
//   // observations as "key=value" lines, which the parent checks with doctest.
//   nnx_test::Finished f = nnx_test::run_forked([&] { return nnx_test::Report().add("k", "v").str(); });
//   auto seen = nnx_test::parse_report(f.out);
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <exception>
#include <functional>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

extern char** environ;

namespace nnx_test {

struct Finished {
  std::string out, err;
  int status = 0;  // as waitpid gives it
  int exit_code() const { return WIFEXITED(status) ? WEXITSTATUS(status) : -1; }
  bool signaled(int sig) const { return WIFSIGNALED(status) && WTERMSIG(status) == sig; }
};

class Child {
 public:
  // argv[0] is the executable's path.
  explicit Child(const std::vector<std::string>& argv) {
    int out[2], err[2];
    if (::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
    if (::pipe2(err, O_CLOEXEC) != 0) {
      ::close(out[0]);
      ::close(out[1]);
      throw std::runtime_error("pipe2 failed");
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_adddup2(&actions, err[1], 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const int rc = ::posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(out[1]);
    ::close(err[1]);
    out_fd_ = out[0];
    err_fd_ = err[0];
    if (rc != 0) {
      close_fds();
      pid_ = -1;
      throw std::runtime_error("posix_spawn " + argv[0] + " failed: error " + std::to_string(rc));
    }
  }
  // A child that already runs (from fork), with its stdout and stderr pipes.
  Child(pid_t pid, int out_fd, int err_fd) : pid_(pid), out_fd_(out_fd), err_fd_(err_fd) {}
  ~Child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
    }
    close_fds();
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& out() const { return out_; }

  // Collects output for `duration` or until both pipes are closed (the child exited).
  void pump_for(std::chrono::milliseconds duration) {
    pump_while([] { return true; }, duration);
  }
  // Collects output until stdout holds `text` (true), or `timeout` passed or the child exited (false).
  bool pump_until(const std::string& text, std::chrono::milliseconds timeout) {
    pump_while([&] { return out_.find(text) == std::string::npos; }, timeout);
    return out_.find(text) != std::string::npos;
  }
  // Reads until both pipes are closed, then reaps the child.
  Finished wait() {
    while (out_fd_ >= 0 || err_fd_ >= 0) pump(-1);
    return reap();
  }
  Finished kill_and_wait(int sig = SIGKILL) {
    if (pid_ > 0) ::kill(pid_, sig);
    return wait();
  }

 private:
  template <class Pred> void pump_while(Pred keep_going, std::chrono::milliseconds duration) {
    const auto deadline = std::chrono::steady_clock::now() + duration;
    while (keep_going() && (out_fd_ >= 0 || err_fd_ >= 0)) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return;
      pump(static_cast<int>(left.count()));
    }
  }
  void pump(int timeout_ms) {
    pollfd fds[2];
    int n = 0;
    for (int fd : {out_fd_, err_fd_})
      if (fd >= 0) fds[n++] = pollfd{fd, POLLIN, 0};
    if (n == 0) return;
    const int rc = ::poll(fds, static_cast<nfds_t>(n), timeout_ms);
    if (rc <= 0) return;
    for (int i = 0; i < n; ++i) {
      if (!fds[i].revents) continue;
      int& fd = fds[i].fd == out_fd_ ? out_fd_ : err_fd_;
      std::string& text = fds[i].fd == out_fd_ ? out_ : err_;
      char buf[4096];
      const ssize_t r = ::read(fd, buf, sizeof buf);
      if (r > 0) {
        text.append(buf, static_cast<std::size_t>(r));
      } else if (r == 0 || errno != EINTR) {
        ::close(fd);
        fd = -1;
      }
    }
  }
  Finished reap() {
    Finished f{out_, err_, 0};
    if (pid_ > 0) {
      while (::waitpid(pid_, &f.status, 0) < 0 && errno == EINTR) {
      }
      pid_ = -1;
    }
    return f;
  }
  void close_fds() {
    for (int* fd : {&out_fd_, &err_fd_})
      if (*fd >= 0) {
        ::close(*fd);
        *fd = -1;
      }
  }

  pid_t pid_ = -1;
  int out_fd_ = -1, err_fd_ = -1;
  std::string out_, err_;
};

inline Finished run(const std::vector<std::string>& argv) { return Child(argv).wait(); }

inline void write_all(int fd, const std::string& s) {
  std::size_t done = 0;
  while (done < s.size()) {
    const ssize_t w = ::write(fd, s.data() + done, s.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    done += static_cast<std::size_t>(w);
  }
}

// Runs `fn` in a fork()ed child; its return value is the child's stdout, an exception makes it
// print "exception=<what>" and exit 3. The child leaves by _exit: no doctest, no static destructors.
// Open no CheckpointManager in the parent across this call (the child would share its lock).
inline Finished run_forked(const std::function<std::string()>& fn) {
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  if (::pipe2(err, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::dup2(err[1], 2);
    ::close(out[0]);
    ::close(err[0]);
    int code = 0;
    std::string text;
    try {
      text = fn();
    } catch (const std::exception& e) {
      text = "exception=" + std::string(e.what()) + "\n";
      code = 3;
    } catch (...) {
      text = "exception=unknown\n";
      code = 3;
    }
    write_all(out[1], text);
    ::_exit(code);
  }
  ::close(out[1]);
  ::close(err[1]);
  return Child(pid, out[0], err[0]).wait();
}

// Observations of a forked child, one "key=value" a line (newlines in values become spaces).
class Report {
 public:
  Report& add(const std::string& key, const std::string& value) {
    std::string v = value;
    for (char& c : v)
      if (c == '\n') c = ' ';
    text_ += key + "=" + v + "\n";
    return *this;
  }
  const std::string& str() const { return text_; }

 private:
  std::string text_;
};

inline std::map<std::string, std::string> parse_report(const std::string& text) {
  std::map<std::string, std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    const auto eq = line.find('=');
    if (eq != std::string::npos) out[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return out;
}

}  // namespace nnx_test
