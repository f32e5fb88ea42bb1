// Fuzzes every reader of a whole step directory, the _COMMIT manifest included. The input
// (step_dir_input.hpp) is written as step <step> of a fresh checkpoint directory; a read-only
// manager then lists it, verifies it, reads its metadata and restores every item, without and with
// a target. Each call returns or throws CheckpointError; a restore into a target may also throw
// StructureError (the documented error for a target that does not fit). Anything else escaping —
// another exception, a crash, a hang, an allocation above -malloc_limit_mb — is a bug, and so is
// an inconsistency between the readers, or an error that does not say where (they trap):
//  * a CheckpointError names the checkpoint directory (the file, or the step in it);
//  * a step that verify() passes has readable metadata and restores, item by item;
//  * latest_intact_step() is that step exactly when it verifies;
//  * what restore_state() read restores again into its own (abstract) structure, byte for byte.
#include <sys/stat.h>

#include <cstring>
#include <map>
#include <nnx/checkpoint.hpp>
#include <nnx/models.hpp>

#include "../checkpoint/src/metadata.hpp"  // commit_manifest, xxh3: _COMMIT rewritten as the writer writes it
#include "fuzz_util.hpp"
#include "step_dir_input.hpp"

namespace {

namespace ckpt = nnx::checkpoint;
namespace sd = fuzz::step_dir;
namespace fs = std::filesystem;

std::uint64_t u64_at(const std::string& b, std::size_t at) {  // little-endian, as the format and this host
  std::uint64_t v = 0;
  std::memcpy(&v, b.data() + at, sizeof v);
  return v;
}

// Whether the footer of array-file bytes points at an index (header | data | index | footer).
bool has_index(const std::string& b) {
  if (b.size() < 17 + 32) return false;
  const std::uint64_t offset = u64_at(b, b.size() - 32), size = u64_at(b, b.size() - 24);
  return offset >= 17 && size <= b.size() && offset == b.size() - 32 - size;
}

void fix_index_checksum(std::string& b) {
  if (!has_index(b)) return;
  const std::uint64_t offset = u64_at(b, b.size() - 32), sum = ckpt::checksum(b.data() + offset, b.size() - 32 - offset);
  std::memcpy(b.data() + b.size() - 16, &sum, sizeof sum);
}

// The manifest entry the writer would record: an array file by its index checksum, else by its bytes.
ckpt::FileDigest digest(const std::string& name, const std::string& b) {
  if (name.ends_with(".nnxa") && has_index(b)) return {b.size(), u64_at(b, b.size() - 16)};
  return {b.size(), ckpt::xxh3(b)};
}

void write_step(const sd::Input& in, const fs::path& dir) {
  fs::create_directories(dir);
  std::map<std::string, sd::Entry> files;  // later records replace earlier ones
  for (const sd::Entry& e : in.entries) files[e.name()] = e;
  std::map<std::string, ckpt::FileDigest> manifest;  // special entries are listed too, with a zero digest
  const bool recommit = in.mode & sd::kRecommit;
  for (const auto& [name, e] : files) {
    if (recommit && name == ckpt::kCommitFile) continue;
    const fs::path path = dir / name;
    std::error_code ec;
    switch (e.kind()) {
      case sd::EntryKind::file: {
        const bool text = !name.ends_with(".nnxa");
        std::string bytes = (in.mode & sd::kExpandJson) && text
                                ? fuzz::expand(reinterpret_cast<const std::uint8_t*>(e.bytes.data()), e.bytes.size())
                                : e.bytes;
        if ((in.mode & sd::kFixIndexChecksum) && !text) fix_index_checksum(bytes);
        fuzz::write_file(path, bytes.data(), bytes.size());
        manifest[name] = digest(name, bytes);
        break;
      }
      case sd::EntryKind::directory: fs::create_directory(path, ec); break;
      case sd::EntryKind::symlink: fs::create_symlink(sd::kLinkTargets[e.bytes.empty() ? 0 : e.bytes[0] & 3], path, ec); break;
      case sd::EntryKind::fifo: (void)::mkfifo(path.c_str(), 0644); break;
    }
    manifest.emplace(name, ckpt::FileDigest{});
  }
  if (recommit) {
    const std::string text = ckpt::commit_manifest(in.step, manifest);
    fuzz::write_file(dir / ckpt::kCommitFile, text.data(), text.size());
  }
}

void check(bool ok) {
  if (!ok) __builtin_trap();
}

const fs::path& checkpoint_dir() {
  static const fs::path dir = fuzz::scratch() / "ckpt";
  return dir;
}

// An error message must say where: the file, or the step in the checkpoint directory.
void check_names_directory(std::string_view message) { fuzz::check_names(message, checkpoint_dir().string()); }

// Whether f returned (else it threw a CheckpointError).
template <class F> bool succeeds(F f) {
  try {
    f();
    return true;
  } catch (const ckpt::CheckpointError& e) {
    check_names_directory(e.what());
    return false;
  }
}

bool same_bytes(const nnx::State& a, const nnx::State& b) {
  if (a.size() != b.size()) return false;
  for (const auto& [path, var] : a) {
    const nnx::Array& x = var.value;
    const nnx::Array& y = b.at(path).value;
    if (x.shape_dtype() != y.shape_dtype()) return false;
    if (x.nbytes() && std::memcmp(x.raw_data(), y.raw_data(), x.nbytes()) != 0) return false;
  }
  return true;
}

// A target of another structure (the seeds' MLP): restoring into it may fail with StructureError.
const nnx::State& foreign_target() {
  static const nnx::State target = [] {
    nnx::Rngs rngs(0);
    nnx::models::MLP model({.in = 3, .hidden = {4}, .out = 2, .dropout = 0.1}, rngs);
    return nnx::state(model).as_abstract();
  }();
  return target;
}

void read_step(const ckpt::CheckpointManager& m, std::int64_t s) {
  const ckpt::StepCheck verified = m.verify(s);
  for (const std::string& problem : verified.problems) check_names_directory(problem);
  const bool intact = verified.ok();
  check(m.latest_intact_step() == (intact ? std::optional(s) : std::nullopt));
  (void)m.best_step();
  std::optional<ckpt::StepMetadata> meta;
  check(succeeds([&] { meta = m.metadata(s); }) || !intact);
  if (!meta) {  // the item names a step usually has
    (void)succeeds([&] { (void)m.restore_state(s); });
    (void)succeeds([&] { (void)m.restore_json(s, "progress"); });
    return;
  }
  ckpt::Composite restored, targets;
  for (const auto& item : meta->items) {
    if (restored.contains(item.name)) continue;  // listed twice: damage restore() reports
    const bool ok = succeeds([&] {
      if (item.type == ckpt::ItemType::json) {
        restored.add(item.name, m.restore_json(s, item.name));
        targets.add(item.name, ckpt::JsonItem());
        return;
      }
      (void)m.restore_pure_dict(s, item.name);
      nnx::State state = m.restore_state(s, item.name);
      targets.add(item.name, state.as_abstract());
      restored.add(item.name, std::move(state));
    });
    check(ok || !intact);
  }
  if (!targets.empty() && targets.size() == meta->items.size()) {
    const ckpt::Composite again = m.restore(s, targets);  // no error is possible: it just read them
    for (const auto& name : targets.names())
      check(!targets.is_state(name) || same_bytes(again.state(name), restored.state(name)));
  }
  try {
    (void)m.restore(s, ckpt::Composite().add("model", foreign_target()), {.partial = true, .cast_dtypes = true});
  } catch (const ckpt::CheckpointError&) {
  } catch (const nnx::StructureError&) {
  }
  (void)succeeds([&] { (void)m.restore(std::nullopt, targets.empty() ? ckpt::Composite().add("progress", ckpt::JsonItem()) : targets); });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const sd::Input in = sd::parse(data, size);
  const fs::path& dir = checkpoint_dir();
  fs::remove_all(dir);
  write_step(in, dir / std::to_string(in.step));
  std::optional<ckpt::CheckpointManager> m;
  if (!succeeds([&] {
        m.emplace(dir.string(), ckpt::Options{.best_fn = [](const ckpt::Metrics& x) { return x.at("loss"); },
                                              .read_only = true});
      }))
    return 0;
  const std::vector<std::int64_t> steps = m->all_steps();
  check(steps.empty() || steps == std::vector<std::int64_t>{in.step});
  check(m->latest_step() == (steps.empty() ? std::nullopt : std::optional<std::int64_t>(in.step)));
  for (std::int64_t s : steps) read_step(*m, s);
  return 0;
}
