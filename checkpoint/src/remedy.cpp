#include "remedy.hpp"

#include <algorithm>
#include <set>

namespace nnx::checkpoint {

namespace {
// An optimizer's state slots (opt_state/<slot>/...), as nnx's optimizers name them.
std::string optimizer_named_by(const std::set<std::string>& slots) {
  if (slots == std::set<std::string>{"mu", "nu"}) return "Adam or AdamW (mu, nu)";
  if (slots == std::set<std::string>{"trace"}) return "SGD with momentum (trace)";
  if (slots == std::set<std::string>{"nu"}) return "RMSProp (nu)";
  if (slots.empty()) return "an optimizer without state (SGD without momentum)";
  std::string names;
  for (const auto& s : slots) names += (names.empty() ? "" : ", ") + s;
  return "an optimizer with state " + names;
}

bool all_are(const std::vector<Difference>& d, Difference::What what) {
  return std::all_of(d.begin(), d.end(), [&](const Difference& x) { return x.what == what; });
}
}  // namespace

std::string restore_remedy(const std::vector<Difference>& differences) {
  const std::string general =
      "build the target from the model that was saved (eval_shape + split of the same configuration); to restore only "
      "some paths pass partial = true; to convert dtypes pass cast_dtypes = true; or restore without a target "
      "(restore_pure_dict), edit the dict and use State::replace_by_pure_dict";
  // Optimizer state: the slots the target expects versus those the checkpoint holds.
  std::set<std::string> target_slots, stored_slots;
  bool optimizer_paths = false;
  for (const auto& d : differences) {
    if (d.path.size() < 2 || d.path[0].is_index() || d.path[0].name() != "opt_state" || d.path[1].is_index()) continue;
    optimizer_paths = true;
    if (d.what == Difference::What::missing) target_slots.insert(d.path[1].name());
    if (d.what == Difference::What::unexpected) stored_slots.insert(d.path[1].name());
  }
  if (optimizer_paths && target_slots != stored_slots)
    return "the optimizer type differs: the checkpoint holds the state of " + optimizer_named_by(stored_slots) +
           ", the target that of " + optimizer_named_by(target_slots) +
           "; build the optimizer the run was saved with (or restore only the model item)";
  if (all_are(differences, Difference::What::shape))
    return "only shapes differ: the checkpoint was saved from a model of another configuration (layer sizes); build "
           "the target with the configuration that was saved";
  if (all_are(differences, Difference::What::dtype))
    return "only dtypes differ: pass cast_dtypes = true to convert the stored values to the target's dtypes";
  if (all_are(differences, Difference::What::unexpected))
    return "the checkpoint holds paths the target does not: pass partial = true to restore only the target's paths";
  if (all_are(differences, Difference::What::kind))
    return "only Variable kinds differ (e.g. Param and BatchStat): the target's module declares these fields as "
           "another kind than the saved one did; build the target from the model that was saved";
  return general;
}

}  // namespace nnx::checkpoint
