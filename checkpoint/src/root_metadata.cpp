// _ROOT_METADATA: four lines, the last sealing the others with their XXH3-64 (like _COMMIT):
//   nnx-checkpoint-root 1
//   best_mode max
//   best_metric val_accuracy
//   end 0123456789abcdef
#include "root_metadata.hpp"

#include <unistd.h>

#include <cstdio>

#include "io.hpp"
#include "metadata.hpp"

namespace nnx::checkpoint {

namespace {
constexpr const char* kHead = "nnx-checkpoint-root 1\n";
constexpr std::uint64_t kMaxRootMetadataBytes = 4096;

std::string root_metadata_text(const BestPolicy& policy) {
  return seal(std::string(kHead) + "best_mode " + best_mode_name(policy.mode) + "\nbest_metric " + policy.metric + "\n");
}
}  // namespace

const char* best_mode_name(BestMode mode) { return mode == BestMode::max ? "max" : "min"; }

void check_best_metric(const std::string& metric) {
  bool control = false;
  for (unsigned char c : metric) control = control || c < 0x20 || c == 0x7f;
  if (metric.empty() || metric.size() > 256 || control)
    throw CheckpointError(ErrorCode::usage, "best_metric must be a metric's name (1 to 256 bytes, no control characters), got '" +
                                                metric.substr(0, 64) + "'");
}

std::optional<BestPolicy> read_root_metadata(const std::string& directory) {
  const std::string path = directory + "/" + kRootMetadataFile;
  if (::access(path.c_str(), F_OK) != 0 && errno == ENOENT) return std::nullopt;
  const std::string text = io::read_small_file(path, kMaxRootMetadataBytes);
  const auto damaged = [&](const std::string& what) {
    return CheckpointError(ErrorCode::corrupted, "'" + path + "' is damaged (" + what + "); the best step is unknown until "
                                                 "a writer with best_metric rewrites it, or you delete it");
  };
  const std::optional<std::string> body = unseal(text);
  if (!body) throw damaged("its checksum does not match");
  if (body->compare(0, std::string(kHead).size(), kHead) != 0) throw damaged("not format 'nnx-checkpoint-root 1'");
  BestPolicy policy;
  const std::string rest = body->substr(std::string(kHead).size());
  if (rest.compare(0, 14, "best_mode max\n") == 0) policy.mode = BestMode::max;
  else if (rest.compare(0, 14, "best_mode min\n") == 0) policy.mode = BestMode::min;
  else throw damaged("no best_mode line");
  const std::string metric_line = rest.substr(14);
  if (metric_line.size() < 13 || metric_line.compare(0, 12, "best_metric ") != 0 || metric_line.back() != '\n') throw damaged("no best_metric line");
  policy.metric = metric_line.substr(12, metric_line.size() - 13);
  try {
    check_best_metric(policy.metric);
  } catch (const CheckpointError&) {
    throw damaged("the best_metric line");
  }
  return policy;
}

void write_root_metadata(const std::string& directory, const BestPolicy& policy) {
  try {
    if (read_root_metadata(directory) == policy) return;
  } catch (const CheckpointError&) {
    // Damaged or unreadable: replaced below.
  }
  const std::string path = directory + "/" + kRootMetadataFile, tmp = path + kTmpMarker + std::to_string(::getpid());
  std::remove(tmp.c_str());
  io::write_file_durably(tmp, root_metadata_text(policy));
  if (::rename(tmp.c_str(), path.c_str()) != 0) io::throw_errno("renaming into place", path, errno);
  io::sync_directory(directory);
}

}  // namespace nnx::checkpoint
