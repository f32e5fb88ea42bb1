#include "nnx/inference.hpp"

#include "autodiff/tape.hpp"
#include "graph_walk.hpp"

namespace nnx::detail {

InferenceScope::InferenceScope(Module& root, const char* caller)
    : walk_(cached_walk(root)), fields_(walk_->fields, caller), paused_tape_(Tape::pause()) {
  modes_.reserve(walk_->walk.modules.size());
  for (Module* m : walk_->walk.modules) {
    modes_.emplace_back(m, m->is_training());
    GraphAccess::set_training(*m, false);
  }
}

InferenceScope::~InferenceScope() {
  for (auto& [m, training] : modes_) GraphAccess::set_training(*m, training);
  Tape::resume(static_cast<Tape*>(paused_tape_));
}

}  // namespace nnx::detail
