// nnx/models.hpp — the framework (nnx/nnx.hpp) and the ready-made models (target nnx::models).
//
//   #include <nnx/models.hpp>
//   nnx::Rngs rngs(0);
//   nnx::models::MLP model({.in = 4, .hidden = {32, 32}, .out = 2}, rngs);
#pragma once

#include "nnx/models/mlp.hpp"
#include "nnx/nnx.hpp"
