// nnx/nnx.hpp — Flax NNX for C++: modules as plain objects, State, split/merge, eval_shape.
//
//   #include <nnx/nnx.hpp>          // the framework; <nnx/models.hpp> adds the ready-made models
//
//   nnx::Rngs rngs(0);                                            // streams: params, dropout, default
//   nnx::models::MLP model({.in = 4, .hidden = {32, 32}, .out = 2, .dropout = 0.1}, rngs);
//   nnx::Array y = model(nnx::Array::zeros({8, 4}, nnx::DType::float32));
//
//   auto [graphdef, params, rest] = nnx::split(model, nnx::Param{}, nnx::Everything{});
//   std::cout << params;                                          // paths, kinds, dtypes, shapes, counts
//   nnx::models::MLP copy = nnx::merge(graphdef, params, rest);   // a new MLP
//
//   // The structure of a model, no memory: the target a checkpoint restores into.
//   auto abstract = nnx::eval_shape([] { nnx::Rngs r(0); return nnx::models::MLP({.in = 4, .hidden = {32}, .out = 2}, r); });
//   auto [gdef, abstract_state] = nnx::split(abstract);
//
// Components, one header each: array (Array, DType, copy-on-write rules), variable (kinds),
// rngs (Threefry streams), init (initializers), module (NNX_FIELDS), filter, state, pure_dict,
// graph (split/merge/state/update/graphdef/clone/eval_shape), inference (predict), ops, nn/* (layers), error.
// No public header includes Eigen, OpenMP, cereal or CLI11: they stay inside the libraries.
#pragma once

#include "nnx/array.hpp"
#include "nnx/autodiff.hpp"
#include "nnx/data.hpp"
#include "nnx/error.hpp"
#include "nnx/filter.hpp"
#include "nnx/graph.hpp"
#include "nnx/inference.hpp"
#include "nnx/init.hpp"
#include "nnx/losses.hpp"
#include "nnx/module.hpp"
#include "nnx/nn/activation.hpp"
#include "nnx/nn/batch_norm.hpp"
#include "nnx/nn/dropout.hpp"
#include "nnx/nn/layer.hpp"
#include "nnx/nn/linear.hpp"
#include "nnx/nn/sequential.hpp"
#include "nnx/nn/standardize.hpp"
#include "nnx/ops.hpp"
#include "nnx/optim.hpp"
#include "nnx/path.hpp"
#include "nnx/portable_math.hpp"
#include "nnx/progress.hpp"
#include "nnx/pure_dict.hpp"
#include "nnx/rngs.hpp"
#include "nnx/state.hpp"
#include "nnx/compute.hpp"
#include "nnx/train.hpp"
#include "nnx/variable.hpp"
