#include "nnx/checkpoint/manager.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/filesystem.hpp>
#include <charconv>
#include <cmath>
#include <exception>
#include <iostream>
#include <mutex>
#include <thread>

#include "io.hpp"
#include "metadata.hpp"
#include "nnx/checkpoint/format.hpp"
#include "root_metadata.hpp"

namespace fs = boost::filesystem;

namespace nnx::checkpoint {

std::int64_t system_clock_unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

namespace {
std::string join_steps(const std::vector<std::int64_t>& steps) {
  if (steps.empty()) return "none";
  std::string s;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    if (i == 8 && steps.size() > 10) {
      s += ", ... (" + std::to_string(steps.size() - 9) + " more), " + std::to_string(steps.back());
      break;
    }
    s += (i ? ", " : "") + std::to_string(steps[i]);
  }
  return s;
}

// A unique suffix for temporary names within this process.
std::string unique_suffix() {
  static std::atomic<std::uint64_t> counter{0};
  return std::to_string(::getpid()) + "-" + std::to_string(counter++);
}
}  // namespace

std::string step_name(std::int64_t step, const Options& options) {
  if (step < 0) throw CheckpointError(ErrorCode::usage, "step must be >= 0, got " + std::to_string(step));
  std::string digits = std::to_string(step);
  if (options.step_format_fixed_length > 0 && digits.size() < static_cast<std::size_t>(options.step_format_fixed_length))
    digits.insert(0, static_cast<std::size_t>(options.step_format_fixed_length) - digits.size(), '0');
  return options.step_prefix.empty() ? digits : options.step_prefix + "_" + digits;
}

std::optional<std::int64_t> parse_step_name(const std::string& name, const Options& options) {
  std::string_view digits = name;
  if (!options.step_prefix.empty()) {
    const std::string prefix = options.step_prefix + "_";
    if (name.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
    digits.remove_prefix(prefix.size());
  }
  if (digits.empty() || digits.size() > 18 || digits.find_first_not_of("0123456789") != std::string_view::npos)
    return std::nullopt;
  std::int64_t step = 0;
  std::from_chars(digits.data(), digits.data() + digits.size(), step);
  return step;
}

struct CheckpointManager::Concurrency {
  std::mutex mutex;
  std::thread writer;      // an async save in progress
  std::exception_ptr error;  // of the last async save, rethrown by finish_pending
};

CheckpointManager::CheckpointManager(std::string directory, Options options)
    : directory_(std::move(directory)), options_(std::move(options)), sync_(std::make_unique<Concurrency>()) {
  if (options_.save_interval_steps < 1)
    throw CheckpointError(ErrorCode::usage, "save_interval_steps must be >= 1, got " + std::to_string(options_.save_interval_steps));
  if (options_.max_to_keep && *options_.max_to_keep < 1)
    throw CheckpointError(ErrorCode::usage, "max_to_keep must be >= 1 (or unset to keep every step), got " +
                                                std::to_string(*options_.max_to_keep));
  if (options_.keep_period && *options_.keep_period < 1)
    throw CheckpointError(ErrorCode::usage, "keep_period must be >= 1, got " + std::to_string(*options_.keep_period));
  if (!options_.clock) throw CheckpointError(ErrorCode::usage, "clock is empty; leave it at its default (the system clock)");
  if (options_.best_fn && !options_.best_metric.empty())
    throw CheckpointError(ErrorCode::usage, "set best_fn or best_metric, not both (best_metric '" + options_.best_metric + "')");
  if (!options_.best_metric.empty()) check_best_metric(options_.best_metric);
  boost::system::error_code ec;
  if (!fs::is_directory(directory_, ec)) {
    if (fs::exists(directory_, ec))
      throw CheckpointError(ErrorCode::usage, "'" + directory_ + "' exists and is not a directory; choose a checkpoint directory");
    if (!options_.create || options_.read_only)
      throw CheckpointError(ErrorCode::not_found, "checkpoint directory '" + directory_ + "' does not exist" +
                                                      (options_.read_only ? " (a read-only manager does not create it)" : "") +
                                                      "; check the path or set create = true");
    fs::create_directories(directory_, ec);
    if (ec) io::throw_errno("creating directory", directory_, ec.value());
  }
  if (!options_.read_only) {
    const std::string lock_path = directory_ + "/" + kLockFile;
    // The lock is a regular file inside the directory, or nothing is touched: O_NOFOLLOW refuses a
    // symbolic link (even a dangling one, so nothing is created outside), O_NONBLOCK keeps a FIFO
    // from blocking, and the fstat below refuses anything but a regular file before it is written.
    const auto not_a_file = [&](const std::string& found) {
      return CheckpointError(ErrorCode::corrupted, "the writer lock '" + lock_path + "' must be a regular file, found " +
                                                       found + "; remove it (while no CheckpointManager writes here) and open again");
    };
    lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644);
    if (lock_fd_ < 0) {
      const int err = errno;
      if (err == ELOOP) throw not_a_file("a symbolic link");
      struct stat st {};  // a directory (EISDIR), a socket (ENXIO), ...: name what is there
      if (::lstat(lock_path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) throw not_a_file(io::file_type_name(st.st_mode));
      io::throw_errno("opening the writer lock", lock_path, err);
    }
    struct stat lock_st {};
    if (::fstat(lock_fd_, &lock_st) != 0) {
      const int err = errno;
      ::close(lock_fd_);
      lock_fd_ = -1;
      io::throw_errno("examining the writer lock", lock_path, err);
    }
    if (!S_ISREG(lock_st.st_mode)) {
      ::close(lock_fd_);
      lock_fd_ = -1;
      throw not_a_file(io::file_type_name(lock_st.st_mode));
    }
    if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      char pid[32] = {};
      (void)::pread(lock_fd_, pid, sizeof pid - 1, 0);
      ::close(lock_fd_);
      lock_fd_ = -1;
      if (err == EWOULDBLOCK)
        throw CheckpointError(ErrorCode::locked, "'" + directory_ + "' is being written by another CheckpointManager (process " +
                                                     std::string(pid) + "); one writer per directory: close the other one, "
                                                     "or open this one with read_only = true to read");
      io::throw_errno("locking", lock_path, err);
    }
    const std::string pid = std::to_string(::getpid());
    if (::ftruncate(lock_fd_, 0) != 0 || ::pwrite(lock_fd_, pid.data(), pid.size(), 0) < 0) { /* the pid is only informative */ }
  }
  try {
    open_directory();
  } catch (...) {
    if (lock_fd_ >= 0) ::close(lock_fd_);  // no destructor runs: release the lock here
    lock_fd_ = -1;
    throw;
  }
}

void CheckpointManager::open_directory() {
  boost::system::error_code ec;
  if (!options_.read_only && options_.cleanup_tmp_directories) {
    // Leftovers of interrupted saves and deletions, and step-named directories without _COMMIT
    // (never committed, so never listed: nothing in them was ever saved as a step).
    for (const auto& entry : fs::directory_iterator(directory_, ec)) {
      const std::string name = entry.path().filename().string();
      boost::system::error_code entry_ec;
      const bool uncommitted_step = parse_step_name(name, options_) && fs::is_directory(entry.path(), entry_ec) &&
                                    !fs::exists(entry.path() / kCommitFile, entry_ec);
      if (name.find(kTmpMarker) != std::string::npos || name.find(kDeletingMarker) != std::string::npos || uncommitted_step)
        fs::remove_all(entry.path(), ec);
    }
  }
  load_best_policy();
  scan();
}

void CheckpointManager::load_best_policy() {
  if (options_.best_fn) {
    rank_ = options_.best_fn;
    rank_mode_ = options_.best_mode;
    rank_name_ = "best_fn";
    rank_from_options_ = true;
    return;
  }
  std::optional<BestPolicy> policy;
  if (!options_.best_metric.empty()) {
    policy = BestPolicy{options_.best_metric, options_.best_mode};
    rank_from_options_ = true;
    if (!options_.read_only) write_root_metadata(directory_, *policy);
  } else {
    try {
      policy = read_root_metadata(directory_);
    } catch (const CheckpointError& e) {
      rank_problem_ = e.what();  // the scan and everything else go on; best_step() says it
    }
  }
  if (!policy) return;
  rank_ = [metric = policy->metric](const Metrics& m) { return m.at(metric); };
  rank_mode_ = policy->mode;
  rank_name_ = std::string(best_mode_name(policy->mode)) + " " + policy->metric;
}

std::string CheckpointManager::best_policy() const { return rank_name_; }

CheckpointManager::~CheckpointManager() {
  try {
    close();
  } catch (const std::exception& e) {
    std::cerr << "nnx::checkpoint: a pending save of '" << directory_ << "' failed: " << e.what() << "\n";
  }
}

void CheckpointManager::close() {
  if (closed_) return;
  closed_ = true;
  struct Unlock {
    int& fd;
    ~Unlock() {
      if (fd >= 0) ::close(fd);  // closing the descriptor releases the flock
      fd = -1;
    }
  } unlock{lock_fd_};
  finish_pending();
}

void CheckpointManager::scan() {
  std::vector<DamagedStep> damaged;
  std::vector<StepRecord> found = list_steps(&damaged);
  std::lock_guard lock(sync_->mutex);
  steps_ = std::move(found);
  damaged_ = std::move(damaged);
}

std::vector<DamagedStep> CheckpointManager::damaged_steps() const {
  std::lock_guard lock(sync_->mutex);
  return damaged_;
}

bool CheckpointManager::is_committed(std::int64_t step) const {
  boost::system::error_code ec;
  return fs::exists(fs::path(step_directory(step)) / kCommitFile, ec);
}

std::vector<CheckpointManager::StepRecord> CheckpointManager::list_steps(std::vector<DamagedStep>* damaged) const {
  std::vector<StepRecord> found;
  std::vector<DamagedStep> bad;
  boost::system::error_code ec;
  for (const auto& entry : fs::directory_iterator(directory_, ec)) {
    const std::string name = entry.path().filename().string();
    const auto step = parse_step_name(name, options_);
    boost::system::error_code entry_ec;  // not `ec`: a missing _COMMIT must not read as a failed listing
    if (!step || !fs::is_directory(entry.path(), entry_ec)) continue;
    if (!fs::exists(entry.path() / kCommitFile, entry_ec)) {  // not committed: never listed
      bad.push_back({name, *step, "no " + std::string(kCommitFile) + ": never committed (a save was interrupted, or files "
                     "were removed); open a writer with cleanup_tmp_directories = true to remove it", false});
      continue;
    }
    StepRecord record{*step, name, 0, {}};
    try {
      StepMetadata m = read_step_metadata(entry.path().string());
      // A directory whose name is not the step its metadata records (a copy, a rename) is not that
      // step: listing it would make a copy of step 400 named 999999999999999999 the latest.
      if (m.step != *step) {
        bad.push_back({name, *step, "its metadata records step " + std::to_string(m.step) + ": a copy or a renamed "
                       "directory, not step " + std::to_string(*step), false});
        continue;
      }
      record.created_unix_ms = m.created_unix_ms;
      record.metrics = std::move(m.metrics);
    } catch (const CheckpointError& e) {
      // Listed all the same (it is committed); restoring it reports what is wrong, and restore with
      // fall_back_to_intact goes past it.
      bad.push_back({name, *step, e.what(), true});
    }
    found.push_back(std::move(record));
  }
  if (ec) io::throw_errno("listing", directory_, ec.value());
  // One directory per step: where several spell the same step ("00400" beside "400"), the one named
  // as this manager names steps wins, else the first by name; the others are never listed.
  auto canonical = [&](const StepRecord& r) { return r.name == step_name(r.step, options_); };
  std::sort(found.begin(), found.end(), [&](const auto& a, const auto& b) {
    if (a.step != b.step) return a.step < b.step;
    if (canonical(a) != canonical(b)) return canonical(a);
    return a.name < b.name;
  });
  for (std::size_t i = 1, listed = 0; i < found.size(); ++i) {
    if (found[i].step != found[listed].step) {
      listed = i;
      continue;
    }
    const std::string why = "'" + found[listed].name + "' holds step " + std::to_string(found[i].step) + " too; only that directory is listed";
    auto known = std::find_if(bad.begin(), bad.end(), [&](const DamagedStep& d) { return d.name == found[i].name; });
    if (known == bad.end()) bad.push_back({found[i].name, found[i].step, why, false});
    else known->reason += "; " + why, known->listed = false;
  }
  found.erase(std::unique(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.step == b.step; }),
              found.end());
  if (damaged) {
    std::sort(bad.begin(), bad.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    *damaged = std::move(bad);
  }
  return found;
}

void CheckpointManager::reload() {
  finish_pending();
  scan();
}

std::vector<std::int64_t> CheckpointManager::all_steps() const {
  std::lock_guard lock(sync_->mutex);
  std::vector<std::int64_t> out;
  for (const auto& r : steps_) out.push_back(r.step);
  return out;
}

std::optional<std::int64_t> CheckpointManager::latest_step() const {
  std::lock_guard lock(sync_->mutex);
  if (steps_.empty()) return std::nullopt;
  return steps_.back().step;
}

std::optional<double> CheckpointManager::best_score(const StepRecord& record) const {
  if (record.metrics.empty()) return std::nullopt;
  try {
    const double score = rank_(record.metrics);
    if (std::isfinite(score)) return score;
  } catch (const std::exception&) {
    // An old step whose metrics lack what best_fn reads (damaged, or saved by an older program)
    // must not stop every later save: it is treated as a step without metrics (manager.hpp).
  }
  return std::nullopt;
}

std::optional<std::int64_t> CheckpointManager::best_step() const {
  if (!rank_problem_.empty()) throw CheckpointError(ErrorCode::corrupted, rank_problem_);
  if (!rank_) return std::nullopt;
  std::lock_guard lock(sync_->mutex);
  std::optional<std::int64_t> best;
  double best_value = 0;
  for (const auto& r : steps_) {
    const std::optional<double> score = best_score(r);
    if (!score) continue;
    const double v = *score;
    const bool better = rank_mode_ == BestMode::max ? v >= best_value : v <= best_value;
    if (!best || better) {  // ties go to the later step
      best = r.step;
      best_value = v;
    }
  }
  return best;
}

bool CheckpointManager::should_save(std::int64_t step) const {
  if (options_.read_only || step < 0) return false;
  std::lock_guard lock(sync_->mutex);
  for (const auto& r : steps_)
    if (r.step == step) return false;
  if (!steps_.empty() && step < steps_.back().step) return false;
  return step % options_.save_interval_steps == 0;
}

std::string CheckpointManager::step_directory(std::int64_t step) const {
  std::lock_guard lock(sync_->mutex);
  for (const auto& r : steps_)
    if (r.step == step) return directory_ + "/" + r.name;
  return directory_ + "/" + step_name(step, options_);
}

void CheckpointManager::check_writable(const char* what) const {
  if (closed_) throw CheckpointError(ErrorCode::usage, std::string("cannot ") + what + ": the manager of '" + directory_ + "' is closed");
  if (options_.read_only)
    throw CheckpointError(ErrorCode::read_only, std::string("cannot ") + what + " in '" + directory_ +
                                                    "': the manager is read_only; open one with read_only = false to write");
}

void CheckpointManager::finish_pending() {
  if (sync_->writer.joinable()) sync_->writer.join();
  if (sync_->error) {
    std::exception_ptr e = std::move(sync_->error);
    sync_->error = nullptr;
    std::rethrow_exception(e);
  }
}

void CheckpointManager::wait_until_finished() { finish_pending(); }

SaveResult CheckpointManager::save(std::int64_t step, const State& state, const Metrics& metrics, bool force) {
  return save(step, Composite().add(kDefaultItem, state), metrics, force);
}

std::optional<std::int64_t> CheckpointManager::pending_step() const {
  std::lock_guard lock(sync_->mutex);
  return pending_;
}

SaveResult CheckpointManager::save(std::int64_t step, const Composite& items, const Metrics& metrics, bool force) {
  check_writable("save");
  finish_pending();  // one save at a time; a previous failure surfaces here
  if (step < 0) throw CheckpointError(ErrorCode::usage, "step must be >= 0, got " + std::to_string(step));
  if (!force && !should_save(step)) return {SaveResult::Status::skipped};
  {
    std::lock_guard lock(sync_->mutex);
    for (const auto& r : steps_)
      if (r.step == step)
        throw CheckpointError(ErrorCode::usage, "step " + std::to_string(step) + " already exists in '" + directory_ +
                                                    "'; delete it first (delete_step) or save under another step");
  }
  if (items.empty()) throw CheckpointError(ErrorCode::usage, "save: nothing to save (the Composite has no items)");
  for (const auto& name : items.names())
    if (items.type(name) == ItemType::state)
      for (const auto& [path, var] : items.state(name))
        if (var.value.is_abstract())
          throw CheckpointError(ErrorCode::usage, "save: item '" + name + "' path '" + path.str() + "' is abstract (" +
                                                      var.value.shape_dtype().str() +
                                                      "); save a State with values, not a restore target");
  StepMetadata check;
  check.metrics = metrics;
  (void)step_metadata_json(check);  // rejects non-finite metrics before any work
  // The snapshot: copying a Composite copies Arrays in O(1), copy-on-write. Later writes by the
  // training loop go to fresh buffers; the writer sees the values of this moment.
  Composite snapshot = items;
  if (!options_.enable_async_checkpointing) {
    write_step(step, snapshot, metrics);
    return {SaveResult::Status::committed};
  }
  {
    std::lock_guard lock(sync_->mutex);
    pending_ = step;
  }
  sync_->writer = std::thread([this, step, snapshot = std::move(snapshot), metrics] {
    try {
      write_step(step, snapshot, metrics);
    } catch (...) {
      sync_->error = std::current_exception();
    }
    std::lock_guard lock(sync_->mutex);
    pending_.reset();
  });
  return {SaveResult::Status::pending};
}

void CheckpointManager::write_step(std::int64_t step, const Composite& items, const Metrics& metrics) {
  const std::string name = step_name(step, options_);
  const std::string final_dir = directory_ + "/" + name;
  const std::string tmp_dir = final_dir + kTmpMarker + unique_suffix();
  boost::system::error_code ec;
  fs::create_directory(tmp_dir, ec);
  if (ec) io::throw_errno("creating the temporary directory", tmp_dir, ec.value());
  StepMetadata m;
  m.step = step;
  m.metrics = metrics;
  std::map<std::string, FileDigest> manifest;  // every other file of the step, for _COMMIT
  try {
    for (const auto& item : items.names()) {
      const ItemType type = items.type(item);
      const std::string file = item_file_name(item, type);
      if (type == ItemType::state) {
        // The index's checksum covers every array's checksum, hence every byte.
        manifest[file] = write_array_file_digest(tmp_dir + "/" + file, items.state(item));
      } else {
        const std::string& text = items.json(item).text();
        io::write_file_durably(tmp_dir + "/" + file, text);
        manifest[file] = {text.size(), xxh3(text)};
      }
      m.items.push_back({item, type, file, manifest[file].size});
    }
    m.created_unix_ms = options_.clock();
    const std::string metadata_json = step_metadata_json(m);
    io::write_file_durably(tmp_dir + "/" + kMetadataFile, metadata_json);
    manifest[kMetadataFile] = {metadata_json.size(), xxh3(metadata_json)};
    io::write_file_durably(tmp_dir + "/" + kCommitFile, commit_manifest(step, manifest));  // last: the commit
    io::sync_directory(tmp_dir);
    if (fs::exists(final_dir, ec))
      throw CheckpointError(ErrorCode::usage, "'" + final_dir + "' already exists but is not a committed step (no " +
                                                  std::string(kCommitFile) + "): an interrupted or damaged step. Move it "
                                                  "away or delete it, or open the manager with cleanup_tmp_directories = "
                                                  "true, which removes such directories");
    if (::rename(tmp_dir.c_str(), final_dir.c_str()) != 0) io::throw_errno("renaming into place", final_dir, errno);
    io::sync_directory(directory_);
  } catch (...) {
    fs::remove_all(tmp_dir, ec);  // never listed; earlier steps untouched
    throw;
  }
  {
    std::lock_guard lock(sync_->mutex);
    steps_.push_back(StepRecord{step, name, m.created_unix_ms, metrics});
    std::sort(steps_.begin(), steps_.end(), [](const auto& a, const auto& b) { return a.step < b.step; });
  }
  apply_retention();
}

void CheckpointManager::remove_step_directory(const std::string& name) {
  // Renamed first, so a crash half-way through removal never leaves a damaged step that is listed.
  const std::string from = directory_ + "/" + name;
  const std::string doomed = from + kDeletingMarker + unique_suffix();
  if (::rename(from.c_str(), doomed.c_str()) != 0) io::throw_errno("deleting (renaming)", from, errno);
  boost::system::error_code ec;
  fs::remove_all(doomed, ec);
  if (ec) io::throw_errno("deleting", doomed, ec.value());
}

void CheckpointManager::delete_step(std::int64_t step) {
  check_writable("delete a step");
  finish_pending();
  std::string name;
  {
    std::lock_guard lock(sync_->mutex);
    auto it = std::find_if(steps_.begin(), steps_.end(), [&](const auto& r) { return r.step == step; });
    if (it == steps_.end()) {
      std::vector<std::int64_t> steps;
      for (const auto& r : steps_) steps.push_back(r.step);
      throw CheckpointError(ErrorCode::not_found, "cannot delete step " + std::to_string(step) + ": not in '" + directory_ +
                                                      "' (steps: " + join_steps(steps) + ")");
    }
    name = it->name;
    steps_.erase(it);
  }
  remove_step_directory(name);
  io::sync_directory(directory_);
}

std::string CheckpointManager::set_aside(std::int64_t step) {
  check_writable("set a step aside");
  finish_pending();
  std::string name;
  {
    std::lock_guard lock(sync_->mutex);
    auto it = std::find_if(steps_.begin(), steps_.end(), [&](const auto& r) { return r.step == step; });
    if (it == steps_.end())
      throw CheckpointError(ErrorCode::not_found, "cannot set step " + std::to_string(step) + " aside: not in '" + directory_ + "'");
    name = it->name;
    steps_.erase(it);
  }
  const std::string from = directory_ + "/" + name, to = from + kDamagedMarker + unique_suffix();
  if (::rename(from.c_str(), to.c_str()) != 0) io::throw_errno("setting aside (renaming)", from, errno);
  io::sync_directory(directory_);
  return to;
}

void CheckpointManager::apply_retention() {
  std::vector<StepRecord> doomed;
  {
    std::lock_guard lock(sync_->mutex);
    if (steps_.size() <= 1) return;
    std::vector<bool> keep(steps_.size(), false);
    keep.back() = true;  // the latest step is what a resumed run needs: never deleted by policy
    if (options_.keep_period)
      for (std::size_t i = 0; i < steps_.size(); ++i) keep[i] = keep[i] || steps_[i].step % *options_.keep_period == 0;
    if (options_.keep_time_interval) {
      const std::int64_t interval = std::chrono::duration_cast<std::chrono::milliseconds>(*options_.keep_time_interval).count();
      std::optional<std::int64_t> last;
      for (std::size_t i = 0; i < steps_.size(); ++i)
        if (!last || steps_[i].created_unix_ms - *last >= interval) {
          keep[i] = true;
          last = steps_[i].created_unix_ms;
        }
    }
    std::vector<std::size_t> ranked;  // candidates for max_to_keep, best (or newest) first
    if (rank_from_options_) {
      std::vector<std::pair<double, std::size_t>> scored;
      for (std::size_t i = 0; i < steps_.size(); ++i) {
        const std::optional<double> score = best_score(steps_[i]);
        if (!score) {
          if (options_.keep_checkpoints_without_metrics) keep[i] = true;
          continue;
        }
        scored.emplace_back(*score, i);
      }
      std::stable_sort(scored.begin(), scored.end(), [&](const auto& a, const auto& b) {
        if (a.first != b.first) return rank_mode_ == BestMode::max ? a.first > b.first : a.first < b.first;
        return a.second > b.second;  // ties: the newer first
      });
      for (const auto& [score, i] : scored) ranked.push_back(i);
    } else {
      for (std::size_t i = steps_.size(); i-- > 0;) ranked.push_back(i);
    }
    const std::size_t limit = options_.max_to_keep ? static_cast<std::size_t>(*options_.max_to_keep) : ranked.size();
    for (std::size_t r = 0; r < ranked.size() && r < limit; ++r) keep[ranked[r]] = true;
    std::vector<StepRecord> kept;
    for (std::size_t i = 0; i < steps_.size(); ++i) (keep[i] ? kept : doomed).push_back(steps_[i]);
    steps_ = std::move(kept);
  }
  for (const auto& r : doomed) remove_step_directory(r.name);
  if (!doomed.empty()) io::sync_directory(directory_);
}

std::int64_t CheckpointManager::resolve(std::optional<std::int64_t> step) const {
  std::lock_guard lock(sync_->mutex);
  std::vector<std::int64_t> steps;
  for (const auto& r : steps_) steps.push_back(r.step);
  if (!step) {
    if (steps.empty())
      throw CheckpointError(ErrorCode::not_found, "nothing to restore: '" + directory_ +
                                                      "' holds no committed checkpoint (unfinished saves are ignored); "
                                                      "train from scratch, or check the directory");
    return steps.back();
  }
  if (std::find(steps.begin(), steps.end(), *step) == steps.end())
    throw CheckpointError(ErrorCode::not_found, "step " + std::to_string(*step) + " is not in '" + directory_ +
                                                    "' (committed steps: " + join_steps(steps) + ")");
  return *step;
}

StepMetadata CheckpointManager::metadata(std::int64_t step) const {
  return read_step_metadata(step_directory(resolve(step)));
}

}  // namespace nnx::checkpoint
