// nnx/rngs.hpp — counter-based random streams, as nnx.Rngs.
//
// A key is two 32-bit words; the generator is Threefry-2x32 with 20 rounds (Salmon et al. 2011,
// the generator JAX uses), so every draw is a pure function of integers: the same seed gives the
// same bits on every machine, compiler and standard library. No std:: distribution is used anywhere.
//
//   nnx::Rngs rngs(0);                          // one stream, "default", seeded with 0
//   nnx::Rngs rngs2({{"params", 0}, {"dropout", 1}});
//   nnx::Key k = rngs("params");                // fold_in(params.key, params.count++) ;
//   nnx::Key d = rngs("dropout");               //  unknown names fall back to "default"
//
// Layers and models take an Rngs& and draw their initial values from it; the built-in ones (Linear,
// BatchNorm, Dropout, MLP, DataLoader) also take a temporary, whose draws die with it:
//   nnx::models::MLP model(config, nnx::Rngs(0));   // the same parameters as with a named Rngs(0)
// A module of your own can do the same with `MyModel(Config c, nnx::Rngs&& r) : MyModel(c, r) {}`.
//
// Each stream is a key (RngKey, uint32[2]) and a counter (RngCount, uint32 scalar), both ordinary
// Variables tagged with the stream name (metadata "tag"): Rngs is a Module, its streams land in the
// State and in checkpoints, and restoring them resumes the exact sequence of draws.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "nnx/key.hpp"
#include "nnx/module.hpp"

namespace nnx {

// One named stream: a key and a counter. A Module so that its state is ordinary State.
class RngStream : public Module {
 public:
  RngStream() = default;
  RngStream(std::string tag, Key key);

  // fold_in(key, count), then count += 1. Inside eval_shape (or on abstract state) returns a fixed
  // key and counts nothing, so a real Rngs used inside eval_shape is left as it was.
  Key next();
  Key current_key() const;             // the stream's fixed key
  std::uint32_t current_count() const;  // draws so far
  std::string tag() const { return key.meta("tag"); }

  RngKey key;      // uint32[2] {hi, lo}, metadata tag = stream name
  RngCount count;  // uint32 scalar, metadata tag = stream name

  std::string type_name() const override { return "RngStream"; }
  NNX_FIELDS(key, count)
};

class Rngs : public Module {
 public:
  // A single stream named "default".
  explicit Rngs(std::uint64_t seed);
  // One stream per (name, seed).
  explicit Rngs(std::vector<std::pair<std::string, std::uint64_t>> seeds);
  Rngs(std::initializer_list<std::pair<const char*, std::uint64_t>> seeds);

  // Draws from stream `name`, or from "default" when there is no such stream. Throws nnx::Error
  // naming the stream and the streams that exist when neither is present.
  Key operator()(std::string_view name = "default");
  Key params() { return (*this)("params"); }
  Key dropout() { return (*this)("dropout"); }

  bool has_stream(std::string_view name) const;
  RngStream& stream(std::string_view name);  // the stream a draw from `name` would use
  std::vector<std::string> stream_names() const;

  std::string type_name() const override { return "Rngs"; }
  // Streams are children named after the stream: rngs/params/key, rngs/params/count, ...
  void visit(Visitor& v) override { v.fields(streams_); }
  NNX_MODULE_FACTORY()

 private:
  friend struct Access;
  Rngs() = default;  // for merge: the streams come from the GraphDef
  std::map<std::string, RngStream> streams_;
};

}  // namespace nnx
