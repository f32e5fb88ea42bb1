// nnx/checkpoint.hpp — Orbax-style checkpointing for nnx States (target nnx::checkpoint).
//
//   #include <nnx/checkpoint.hpp>
//   nnx::checkpoint::CheckpointManager manager(dir, {.max_to_keep = 3});
//   manager.save(step, nnx::state(model));
//   nnx::State restored = manager.restore(manager.latest_step(), abstract_state);
//
// manager.hpp: the manager and its options; resumable.hpp: a whole training run saved and resumed
// in one call each; items.hpp: Composite and JSON items; format.hpp: the
// array file; error.hpp: CheckpointError. The on-disk format: docs/checkpoint-format.md.
#pragma once

#include "nnx/checkpoint/error.hpp"
#include "nnx/checkpoint/format.hpp"
#include "nnx/checkpoint/items.hpp"
#include "nnx/checkpoint/manager.hpp"
#include "nnx/checkpoint/metrics_log.hpp"
#include "nnx/checkpoint/resumable.hpp"
