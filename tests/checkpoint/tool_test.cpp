// nnx-ckpt, run as a separate process: list, show, verify, digest, diff and bad arguments.
#include <doctest/doctest.h>

#include <boost/filesystem.hpp>
#include <cereal/types/string.hpp>
#include <cmath>
#include <fstream>
#include <initializer_list>
#include <nnx/checkpoint.hpp>
#include <nnx/checkpoint/json.hpp>
#include <nnx/models.hpp>
#include <string>
#include <vector>

#include "fixtures.hpp"
#include "subprocess.hpp"
#include "temp_dir.hpp"

namespace ckpt = nnx::checkpoint;

namespace {

nnx_test::Finished tool(std::vector<std::string> args) {
  args.insert(args.begin(), NNX_CKPT_TOOL);
  return nnx_test::run(args);
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// One check per part: each must occur in `text` (the tool's stdout or stderr).
void check_has_all(const std::string& text, std::initializer_list<std::string> parts) {
  for (const std::string& part : parts) CHECK_MESSAGE(has(text, part), "expected \"" << part << "\" in: " << text);
}

nnx::State small_mlp_state(std::uint64_t seed) {
  nnx::Rngs rngs(seed);
  nnx::models::MLP model({.in = 3, .hidden = {5}, .out = 2}, rngs);
  return nnx::state(model);
}

nnx::State vector_state(std::initializer_list<std::pair<const char*, std::vector<float>>> entries) {
  nnx::State s;
  for (const auto& [path, values] : entries)
    s.set(nnx::Path::parse(path),
          nnx::Param(nnx::Array::from_values<float>({static_cast<std::int64_t>(values.size())}, std::span<const float>(values))));
  return s;
}


std::string digest_of(const std::vector<std::string>& args) {
  const auto r = tool(args);
  INFO("stderr: " << r.err);
  CHECK(r.exit_code() == 0);
  CHECK(r.out.size() == 33);  // 32 hex digits and a newline
  return r.out;
}

}  // namespace

TEST_CASE("nnx-ckpt list shows every step with its metrics, and the best step by the recorded metric") {
  TempDir dir("nnx-tool-list");
  {
    const auto empty = tool({"list", dir.string()});
    CHECK(empty.exit_code() == 0);
    CHECK(has(empty.out, "no committed checkpoints"));
  }
  {
    ckpt::CheckpointManager m(dir.string(), {.best_metric = "val_loss", .best_mode = ckpt::BestMode::min});
    for (std::int64_t step : {1, 2, 30}) m.save(step, small_mlp_state(0), {{"val_loss", 0.25 * static_cast<double>(step)}, {"acc", 0.5}});
  }
  const auto r = tool({"list", dir.string()});
  INFO("stdout: " << r.out << "\nstderr: " << r.err);
  CHECK(r.exit_code() == 0);
  check_has_all(r.out, {"step", "\n1 ", "\n2 ", "\n30 ", "val_loss=0.25", "val_loss=0.5", "val_loss=7.5", "acc=0.5",
                        "best step: 1 (min val_loss)"});
}

TEST_CASE("nnx-ckpt list shows a damaged step with its reason and goes on") {
  TempDir dir("nnx-tool-list-damaged");
  {
    ckpt::CheckpointManager m(dir.string());
    for (std::int64_t step : {1, 2}) m.save(step, small_mlp_state(0), {{"val_loss", 1.0}});
  }
  std::ofstream(dir.file("1") + "/_METADATA.json", std::ios::app) << " ";  // one byte more than the manifest says
  boost::filesystem::create_directory(dir.file("3"));                       // never committed
  const auto r = tool({"list", dir.string()});
  INFO("stdout: " << r.out << "\nstderr: " << r.err);
  CHECK(r.exit_code() == 0);
  check_has_all(r.out, {"\n1           DAMAGED: ", "does not match the step's manifest", "\n2 ", "val_loss=1",
                        "damaged step directories (2;", "  1 (listed as step 1): ", "  3 (not listed): no _COMMIT"});
}

TEST_CASE("nnx-ckpt show and digest check the manifest before trusting an array file") {
  TempDir dir("nnx-tool-manifest");
  {
    ckpt::CheckpointManager m(dir.string());
    m.save(1, small_mlp_state(0));
    m.save(2, small_mlp_state(1));
  }
  // A sound array file of another step in place of step 2's: every checksum inside it matches.
  boost::filesystem::copy_file(dir.file("1") + "/default.nnxa", dir.file("2") + "/default.nnxa",
                               boost::filesystem::copy_options::overwrite_existing);
  for (const char* command : {"show", "digest"}) {
    const auto r = tool({command, dir.string(), "--step", "2"});
    INFO(command << " stdout: " << r.out << "\nstderr: " << r.err);
    CHECK(r.exit_code() == 2);
    check_has_all(r.err, {"default.nnxa", "does not match the step's manifest"});
  }
}

TEST_CASE("nnx-ckpt show prints items, paths, kinds, dtypes and shapes of the latest or a chosen step") {
  TempDir dir("nnx-tool-show");
  {
    ckpt::CheckpointManager m(dir.string());
    m.save(1, vector_state({{"only_in_one", {1, 2}}}));
    m.save(2, ckpt::Composite().add("model", small_mlp_state(0)).add_json("config", std::string("hello-config")));
  }
  const auto r = tool({"show", dir.string()});
  INFO("stdout: " << r.out << "\nstderr: " << r.err);
  CHECK(r.exit_code() == 0);
  check_has_all(r.out, {"step 2 (" + dir.string() + "/2)", "item 'model' (state, model.nnxa)", "item 'config' (json, config.json)",
                        "hello-config"});
  check_has_all(r.out, {"layers/", "0/", "1/", "kernel", "bias", "Param", "float32[3,5]", "float32[5]", "float32[5,2]", "float32[2]"});
  CHECK_FALSE(has(r.out, "only_in_one"));
  CHECK_FALSE(has(r.out, "abstract"));  // stored arrays, not restore targets

  const auto one = tool({"show", dir.string(), "--step", "1"});
  CHECK(one.exit_code() == 0);
  check_has_all(one.out, {"step 1 (", "only_in_one", "float32[2]"});
}

TEST_CASE("nnx-ckpt verify: 0 on a sound directory, 1 naming the step and the array after a flipped byte") {
  TempDir dir("nnx-tool-verify");
  {
    ckpt::CheckpointManager m(dir.string());
    m.save(1, ckpt::Composite().add("model", small_mlp_state(1)));
    m.save(2, ckpt::Composite().add("model", small_mlp_state(2)).add_json("note", 5));
  }
  const auto good = tool({"verify", dir.string()});
  INFO("stdout: " << good.out << "\nstderr: " << good.err);
  CHECK(good.exit_code() == 0);
  check_has_all(good.out, {"step 1: ok", "step 2: ok"});

  checkpoint_test::flip_byte(dir.file("2/model.nnxa"), nnx::Path{"layers", 0, "kernel"});
  const auto bad = tool({"verify", dir.string()});
  INFO("stdout: " << bad.out << "\nstderr: " << bad.err);
  CHECK(bad.exit_code() == 1);
  check_has_all(bad.out, {"step 1: ok", "step 2: DAMAGED", "layers/0/kernel", dir.file("2/model.nnxa")});
  CHECK_FALSE(has(bad.out, "layers/1/kernel"));  // only the damaged array is named

  CHECK(tool({"verify", dir.string(), "--step", "1"}).exit_code() == 0);
  CHECK(tool({"verify", dir.string(), "--step", "2"}).exit_code() == 1);
}

TEST_CASE("nnx-ckpt digest depends on paths and values only") {
  TempDir a("nnx-tool-digest-a"), b("nnx-tool-digest-b"), c("nnx-tool-digest-c");
  const nnx::State params = small_mlp_state(7);
  nnx::State nudged = params;
  {
    nnx::Array& k = nudged.at("layers/1/kernel").value;
    float* p = k.mutable_data<float>();  // copy-on-write: params keeps its value
    p[3] = std::nextafter(p[3], INFINITY);  // one ulp
  }
  const nnx::State opt1 = vector_state({{"mu", {1, 2, 3}}}), opt2 = vector_state({{"mu", {1, 2, 4}}});
  {
    ckpt::CheckpointManager ma(a.string());
    ma.save(3, ckpt::Composite().add("model", params).add("opt", opt1), {{"loss", 1.0}});
  }
  {
    ckpt::CheckpointManager mb(b.string());
    mb.save(1, ckpt::Composite().add("model", small_mlp_state(8)).add("opt", opt1));
    mb.save(10, ckpt::Composite().add("model", params).add("opt", opt1), {{"loss", 2.0}});  // other step, time, metrics
    mb.save(11, ckpt::Composite().add("model", params).add("opt", opt2));
  }
  {
    ckpt::CheckpointManager mc(c.string());
    mc.save(3, ckpt::Composite().add("model", nudged).add("opt", opt1));
  }
  const std::string da = digest_of({"digest", a.string()});
  CHECK(digest_of({"digest", b.string(), "--step", "10"}) == da);
  CHECK(digest_of({"digest", b.string(), "--step", "1"}) != da);
  CHECK(digest_of({"digest", c.string()}) != da);  // one ulp
  // --item: only that item counts
  CHECK(digest_of({"digest", b.string()}) != da);  // latest (11): another opt
  CHECK(digest_of({"digest", b.string(), "--item", "model"}) == digest_of({"digest", a.string(), "--item", "model"}));
  CHECK(digest_of({"digest", b.string(), "--item", "opt"}) != digest_of({"digest", a.string(), "--item", "opt"}));
  CHECK(digest_of({"digest", a.string(), "--item", "model"}) != da);
  CHECK(digest_of({"digest", c.string(), "--item", "opt"}) == digest_of({"digest", a.string(), "--item", "opt"}));
  const auto missing = tool({"digest", a.string(), "--item", "nope"});
  CHECK(missing.exit_code() == 2);
  CHECK(has(missing.err, "nope"));
}

TEST_CASE("nnx-ckpt diff lists added, removed and changed paths with max |a - b|") {
  TempDir dir("nnx-tool-diff");
  {
    ckpt::CheckpointManager m(dir.string());
    m.save(1, vector_state({{"same", {1, 2}}, {"changed", {1, 2, 3}}, {"gone", {4}}}));
    m.save(2, vector_state({{"same", {1, 2}}, {"changed", {1, 2.5f, 3}}, {"new/leaf", {5}}}));
    m.save(3, vector_state({{"same", {1, 2}}, {"changed", {1, 2.5f, 3}}, {"new/leaf", {5}}}));
    m.save(4, ckpt::Composite().add("default", vector_state({{"same", {1, 2}}, {"changed", {1, 2.5f, 3}}, {"new/leaf", {5}}}))
                  .add_json("extra", 1));
  }
  const auto r = tool({"diff", dir.string(), "1", "2"});
  INFO("stdout: " << r.out << "\nstderr: " << r.err);
  CHECK(r.exit_code() == 1);
  check_has_all(r.out, {"- default: gone", "+ default: new/leaf", "~ default: changed values differ, max |a - b| = 0.5",
                        "3 difference(s) between step 1 and step 2"});
  CHECK_FALSE(has(r.out, "same"));

  const auto same = tool({"diff", dir.string(), "2", "3"});
  CHECK(same.exit_code() == 0);
  CHECK(has(same.out, "identical between step 2 and step 3"));

  const auto items = tool({"diff", dir.string(), "3", "4"});
  CHECK(items.exit_code() == 1);
  check_has_all(items.out, {"+ item extra", "1 difference(s)"});
}

TEST_CASE("nnx-ckpt bad arguments exit 2 with a message on stderr") {
  TempDir dir("nnx-tool-args");
  {
    ckpt::CheckpointManager m(dir.string());
    m.save(1, vector_state({{"w", {1}}}));
    m.save(2, vector_state({{"w", {2}}}));
  }
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases{
      {{}, "subcommand is required"},
      {{"frobnicate", dir.string()}, "unknown subcommand 'frobnicate'"},
      {{"list"}, "DIR is required"},
      {{"diff", dir.string(), "1"}, "STEP_B is required"},
      {{"show", dir.string(), "--step", "abc"}, "--step"},
      {{"diff", dir.string(), "one", "2"}, "one"},
      {{"list", dir.string() + "/does-not-exist"}, "does not exist"},
      {{"show", dir.string(), "--step", "99"}, "step 99 is not in '" + dir.string() + "' (committed steps: 1, 2)"},
      {{"diff", dir.string(), "1", "77"}, "step 77 is not in"},
      {{"verify", dir.string(), "--step", "5"}, "step 5 is not in"},
      {{"list", dir.string(), "extra"}, "extra"},
  };
  for (const auto& c : cases) {
    std::string joined;
    for (const auto& a : c.args) joined += a + " ";
    CAPTURE(joined);
    const auto r = tool(c.args);
    INFO("stdout: " << r.out << "\nstderr: " << r.err);
    CHECK(r.exit_code() == 2);
    CHECK(has(r.err, c.message));
    CHECK(r.out.empty());
  }
}
