// CoordinatedRun: rank 0 acts on the checkpoint directory; every rank learns the outcome through
// collectives (an error anywhere is thrown everywhere).
#include "nnx/distributed/coordinated_run.hpp"

#include "nnx/error.hpp"
#include "nnx/graph.hpp"
#include "agree.hpp"
#include "state_bytes.hpp"

namespace nnx::distributed {

namespace ckpt = nnx::checkpoint;

namespace {
// Runs `action` on rank 0 (or on every rank, when `everywhere`); every rank throws if one failed.
template <class F> void on_root_then_agree(const Communicator& comm, const char* what, F&& action, bool everywhere = false) {
  std::string error;
  if (everywhere || comm.is_root()) error = detail::error_of(action);
  detail::throw_if_any(comm, std::move(error), std::string("CoordinatedRun::") + what);
}

// Rank 0's small integers to every rank: fixed-width little-endian int64s.
void broadcast_ints(const Communicator& comm, std::vector<std::int64_t>& values) {
  std::vector<std::uint8_t> bytes;
  for (std::int64_t v : values)
    for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<std::uint8_t>(static_cast<std::uint64_t>(v) >> (8 * i)));
  comm.broadcast(bytes);
  if (bytes.size() != 8 * values.size())
    throw Error("CoordinatedRun: rank 0 sent " + std::to_string(bytes.size()) + " bytes; expected " + std::to_string(8 * values.size()));
  for (std::size_t k = 0; k < values.size(); ++k) {
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= std::uint64_t{bytes[8 * k + static_cast<std::size_t>(i)]} << (8 * i);
    values[k] = static_cast<std::int64_t>(v);
  }
}

constexpr std::int64_t kNone = -1;  // steps are >= 0
std::int64_t encode(std::optional<std::int64_t> s) { return s ? *s : kNone; }
std::optional<std::int64_t> decode(std::int64_t v) { return v == kNone ? std::nullopt : std::optional<std::int64_t>(v); }
}  // namespace

CoordinatedRun::CoordinatedRun(const Communicator& comm, std::string directory, ckpt::Options options,
                               ckpt::ResumableOptions resumable)
    : comm_(comm), directory_(std::move(directory)), options_(options) {
  on_root_then_agree(comm_, "open", [&] {
    manager_ = std::make_unique<ckpt::CheckpointManager>(directory_, options_);
    run_ = std::make_unique<ckpt::Resumable>(*manager_, resumable);
  });
  std::vector<std::int64_t> latest{manager_ ? encode(manager_->latest_step()) : 0};
  broadcast_ints(comm_, latest);
  latest_ = decode(latest[0]);
}

CoordinatedRun::~CoordinatedRun() = default;

CoordinatedRun& CoordinatedRun::add(const std::string& name, Module& module) {
  for (const Item& i : items_)
    if (i.name == name) throw Error("CoordinatedRun::add: an item named '" + name + "' was already added");
  items_.push_back({name, &module, {}, {}});
  if (run_) run_->add(name, module);
  return *this;
}

CoordinatedRun& CoordinatedRun::add_json_item(const std::string& name, std::function<ckpt::JsonItem()> to_json,
                                              std::function<void(const ckpt::JsonItem&)> from_json) {
  for (const Item& i : items_)
    if (i.name == name) throw Error("CoordinatedRun::add_json: an item named '" + name + "' was already added");
  items_.push_back({name, nullptr, std::move(to_json), std::move(from_json)});
  return *this;  // add_json (the header's template) also gives the value to rank 0's Resumable
}

std::optional<std::int64_t> CoordinatedRun::resume_or_start() {
  std::optional<std::int64_t> resumed;
  on_root_then_agree(comm_, "resume_or_start", [&] { resumed = run_->resume_or_start(); });
  std::vector<std::int64_t> step{encode(resumed), manager_ ? encode(manager_->latest_step()) : 0};
  broadcast_ints(comm_, step);
  resumed = decode(step[0]);
  latest_ = decode(step[1]);
  if (resumed) broadcast_items();
  return resumed;
}

void CoordinatedRun::broadcast_items() {
  for (Item& item : items_) {
    std::vector<std::uint8_t> bytes;
    std::string text;
    if (comm_.is_root()) {
      if (item.module) bytes = detail::state_to_bytes(nnx::state(*item.module));
      else text = item.to_json().text();
    }
    if (item.module) comm_.broadcast(bytes);
    else comm_.broadcast(text);
    on_root_then_agree(comm_, "resume_or_start", [&] {
      if (comm_.is_root()) return;
      if (item.module) {
        State state = nnx::state(*item.module);
        detail::state_from_bytes(state, bytes, item.name);
        nnx::update(*item.module, state);
      } else {
        item.from_json(ckpt::JsonItem::from_text(text));
      }
    }, /*everywhere=*/true);
  }
}

ckpt::SaveResult CoordinatedRun::save(std::int64_t step, const ckpt::Metrics& metrics, bool force) {
  comm_.barrier();  // every rank has reached `step` before rank 0 writes a byte of it
  ckpt::SaveResult result;
  on_root_then_agree(comm_, "save", [&] { result = run_->save(step, metrics, force); });
  std::vector<std::int64_t> outcome{static_cast<std::int64_t>(result.status), manager_ ? encode(manager_->latest_step()) : 0};
  broadcast_ints(comm_, outcome);
  if (outcome[0] < 0 || outcome[0] > 2) throw Error("CoordinatedRun::save: rank 0 sent status " + std::to_string(outcome[0]));
  latest_ = decode(outcome[1]);
  return {static_cast<ckpt::SaveResult::Status>(outcome[0])};
}

void CoordinatedRun::wait_until_finished() {
  on_root_then_agree(comm_, "wait_until_finished", [&] { manager_->wait_until_finished(); });
  std::vector<std::int64_t> latest{manager_ ? encode(manager_->latest_step()) : 0};
  broadcast_ints(comm_, latest);
  latest_ = decode(latest[0]);
}

void CoordinatedRun::log(std::int64_t step, const ckpt::Metrics& metrics) {
  if (run_) run_->log(step, metrics);
}

bool CoordinatedRun::should_save(std::int64_t step) const {
  return step >= 0 && (!latest_ || step > *latest_) && step % options_.save_interval_steps == 0;
}

}  // namespace nnx::distributed
