// Async checkpointing: save() returns once the arrays are snapshotted, the writer thread commits
// the values of that moment, errors surface at the next save / wait_until_finished / close.
#include <doctest/doctest.h>
#include <sys/resource.h>

#include <future>

#include "subprocess.hpp"
#include "fixtures.hpp"

using namespace checkpoint_test;

namespace {

const nnx::models::MLPConfig kAsyncConfig{.in = 64, .hidden = {256, 256}, .out = 8};

nnx::models::MLP async_model(std::uint64_t seed = 0) {
  nnx::Rngs rngs(seed);
  return nnx::models::MLP(kAsyncConfig, rngs);
}

nnx::State async_target() {
  auto abstract = nnx::eval_shape([] { return async_model(); });
  auto [graphdef, target] = nnx::split(abstract);
  CHECK(target.has_abstract());
  return target;
}

// A copy no later write to the model can reach (independent of copy-on-write).
nnx::State deep_copy(const nnx::State& s) {
  nnx::State out;
  for (const auto& [path, var] : s) out.set(path, nnx::Variable(var.kind(), var.value.copy(), var.metadata));
  return out;
}

// Writes into every parameter of the model in place, through mutable_data.
void scribble(nnx::models::MLP& model, float delta) {
  for (auto& layer : model.layers) {
    std::vector<nnx::Array*> arrays{&layer.kernel.value};
    if (layer.bias) arrays.push_back(&layer.bias->value);
    for (nnx::Array* a : arrays) {
      float* p = a->mutable_data<float>();
      for (std::int64_t i = 0; i < a->numel(); ++i) p[i] += delta;
    }
  }
}

std::string async_code_name(ckpt::ErrorCode code) {
  switch (code) {
    case ckpt::ErrorCode::not_found: return "not_found";
    case ckpt::ErrorCode::corrupted: return "corrupted";
    case ckpt::ErrorCode::truncated: return "truncated";
    case ckpt::ErrorCode::format: return "format";
    case ckpt::ErrorCode::read_only: return "read_only";
    case ckpt::ErrorCode::locked: return "locked";
    case ckpt::ErrorCode::io: return "io";
    case ckpt::ErrorCode::usage: return "usage";
  }
  return "?";
}

std::string join_steps(const std::vector<std::int64_t>& steps) {
  std::string s;
  for (auto step : steps) {
    if (!s.empty()) s += ',';
    s += std::to_string(step);
  }
  return s;
}

nnx::State filled(std::int64_t numel, float value) {
  nnx::State s;
  s.set(nnx::Path{"w"}, nnx::Param(nnx::Array::full({numel}, nnx::DType::float32, value)));
  return s;
}

}  // namespace

TEST_CASE("async save: the model may be modified at once, the checkpoint holds the values of the save moment") {
  TempDir dir("nnx-async");
  auto model = async_model();
  const nnx::State target = async_target();
  {
    ckpt::CheckpointManager manager(dir.string(), {.enable_async_checkpointing = true});
    const nnx::State at_save = deep_copy(nnx::state(model));
    REQUIRE(manager.save(1, nnx::state(model)));
    scribble(model, 1.0f);  // right after save() returned: while the writer may still be writing
    scribble(model, 2.0f);
    const nnx::State mutated = deep_copy(nnx::state(model));
    REQUIRE_FALSE(nnx::state_equal(at_save, mutated));
    manager.wait_until_finished();
    CHECK(manager.all_steps() == std::vector<std::int64_t>{1});
    const nnx::State restored = manager.restore(1, target);
    CHECK(nnx::state_equal(restored, at_save));
    CHECK_FALSE(nnx::state_equal(restored, mutated));
    // The model kept its own writes: the snapshot did not leak back into it either.
    CHECK(nnx::state_equal(nnx::state(model), mutated));
  }
  CHECK(leftovers(dir.string()).empty());
}

TEST_CASE("async save returns before the write finishes") {
  // The writer thread calls best_fn under retention, after committing and before the save is
  // finished. Blocking it there until save() has returned proves save() did not wait for the write.
  TempDir dir("nnx-async-gate");
  std::promise<void> entered_promise, release_promise;
  std::future<void> entered = entered_promise.get_future();
  std::shared_future<void> release = release_promise.get_future().share();
  std::atomic<bool> gate{false};
  std::atomic<bool> writer_timed_out{false};
  auto model = async_model(3);
  {
    ckpt::CheckpointManager manager(dir.string(), {.max_to_keep = 10,
                                                   .best_fn =
                                                       [&](const ckpt::Metrics& m) {
                                                         if (gate.exchange(false)) {
                                                           entered_promise.set_value();
                                                           // bounded: a synchronous save would deadlock here
                                                           if (release.wait_for(std::chrono::seconds(30)) != std::future_status::ready)
                                                             writer_timed_out = true;
                                                         }
                                                         return m.at("loss");
                                                       },
                                                   .best_mode = ckpt::BestMode::min,
                                                   .enable_async_checkpointing = true});
    REQUIRE(manager.save(1, nnx::state(model), {{"loss", 1.0}}));
    manager.wait_until_finished();
    const nnx::State at_save = deep_copy(nnx::state(model));
    gate = true;
    REQUIRE(manager.save(2, nnx::state(model), {{"loss", 0.5}}));
    // save() has returned; the writer cannot finish until released.
    scribble(model, -3.0f);
    const bool writer_blocked = entered.wait_for(std::chrono::seconds(30)) == std::future_status::ready;
    release_promise.set_value();
    CHECK(writer_blocked);
    CHECK_FALSE(writer_timed_out.load());
    manager.wait_until_finished();
    CHECK(manager.all_steps() == std::vector<std::int64_t>{1, 2});
    CHECK(manager.best_step() == std::optional<std::int64_t>(2));
    CHECK(nnx::state_equal(manager.restore(2, async_target()), at_save));
    CHECK_FALSE(nnx::state_equal(manager.restore(2, async_target()), nnx::state(model)));
  }
  CHECK(leftovers(dir.string()).empty());
}

TEST_CASE("save() says pending for an async save, committed for a sync one, latest_step() names only committed steps") {
  // The writer thread reads the clock just before it writes the metadata and commits: blocking
  // it there holds the step between "snapshotted" and "committed".
  TempDir dir("nnx-async-pending");
  std::promise<void> entered_promise, release_promise;
  std::future<void> entered = entered_promise.get_future();
  std::shared_future<void> release = release_promise.get_future().share();
  std::atomic<bool> gate{false};
  auto model = async_model(4);
  {
    ckpt::CheckpointManager manager(dir.string(), {.enable_async_checkpointing = true, .clock = [&] {
                                                     if (gate.exchange(false)) {
                                                       entered_promise.set_value();
                                                       (void)release.wait_for(std::chrono::seconds(30));
                                                     }
                                                     return std::int64_t{1000};
                                                   }});
    const ckpt::SaveResult first = manager.save(1, nnx::state(model));
    CHECK(first.status == ckpt::SaveResult::Status::pending);
    CHECK_FALSE(first.committed());
    manager.wait_until_finished();
    gate = true;
    CHECK(manager.save(2, nnx::state(model)).status == ckpt::SaveResult::Status::pending);
    REQUIRE(entered.wait_for(std::chrono::seconds(30)) == std::future_status::ready);
    CHECK(manager.pending_step() == 2);
    CHECK(manager.latest_step() == 1);  // step 2 is not committed yet
    release_promise.set_value();
    manager.wait_until_finished();
    CHECK(manager.latest_step() == 2);
    CHECK_FALSE(manager.pending_step().has_value());
    CHECK(manager.save(2, nnx::state(model)).status == ckpt::SaveResult::Status::skipped);  // exists: should_save is false
  }
  ckpt::CheckpointManager sync(dir.string());
  const ckpt::SaveResult third = sync.save(3, nnx::state(model));
  CHECK(third.committed());
  CHECK(static_cast<bool>(third));
  CHECK(sync.latest_step() == 3);
}

TEST_CASE("several async saves in a row, interleaved with training, each commit their own values") {
  TempDir dir("nnx-async-row");
  nnx::Rngs rngs(5);
  nnx::models::MLP model({.in = 16, .hidden = {128}, .out = 4}, rngs);
  nnx::Optimizer opt(model, nnx::optim::adam(1e-2));
  const nnx::Array x = nnx::init::normal(1.0)(nnx::key_from_seed(1), {16, 16}, nnx::DType::float32);
  const nnx::Array y = nnx::Array::from_values<std::int32_t>({16}, std::vector<std::int32_t>(16, 2));
  std::vector<nnx::State> models, opts;
  {
    ckpt::CheckpointManager manager(dir.string(), {.enable_async_checkpointing = true});
    for (std::int64_t step = 1; step <= 6; ++step) {
      nnx::train_step(model, opt, [&](nnx::models::MLP& m) { return nnx::softmax_cross_entropy(m(x), y); });
      models.push_back(deep_copy(nnx::state(model)));
      opts.push_back(deep_copy(nnx::state(opt)));
      REQUIRE(manager.save(step, ckpt::Composite().add("model", nnx::state(model)).add("opt", nnx::state(opt)),
                           {{"step_metric", static_cast<double>(step)}}));
      // each save waits for the previous one: it is committed by now
      if (step > 1) {
        const auto committed = manager.all_steps();
        CHECK((!committed.empty() && committed.back() >= step - 1));
      }
      scribble(model, 0.25f);  // in-place writes between saves must not reach any checkpoint
    }
    manager.wait_until_finished();
    REQUIRE(manager.all_steps() == std::vector<std::int64_t>{1, 2, 3, 4, 5, 6});
    for (std::int64_t step = 1; step <= 6; ++step) {
      CAPTURE(step);
      const auto targets = ckpt::Composite()
                               .add("model", nnx::state(model).as_abstract())
                               .add("opt", nnx::state(opt).as_abstract());
      const ckpt::Composite restored = manager.restore(step, targets);
      CHECK(nnx::state_equal(restored.state("model"), models[static_cast<std::size_t>(step - 1)]));
      CHECK(nnx::state_equal(restored.state("opt"), opts[static_cast<std::size_t>(step - 1)]));
      CHECK(restored.state("opt").at("step").value.item<std::int64_t>() == step);
      CHECK(manager.metadata(step).metrics.at("step_metric") == static_cast<double>(step));
    }
  }
  CHECK(leftovers(dir.string()).empty());
}

TEST_CASE("wait_until_finished, close and the destructor wait for a pending async save") {
  TempDir dir("nnx-async-wait");
  const nnx::State big = filled(2 << 20, 7.0f);  // 8 MB: the write takes a while
  {
    ckpt::CheckpointManager manager(dir.string(), {.enable_async_checkpointing = true});
    REQUIRE(manager.save(1, big));
    manager.wait_until_finished();
    CHECK(manager.latest_step() == std::optional<std::int64_t>(1));
    manager.wait_until_finished();  // nothing pending: returns at once, no error
    REQUIRE(manager.save(2, filled(2 << 20, 8.0f)));
  }  // the destructor waits: step 2 is committed
  {
    ckpt::CheckpointManager reader(dir.string(), {.read_only = true});
    CHECK(reader.all_steps() == std::vector<std::int64_t>{1, 2});
    CHECK(nnx::state_equal(reader.restore_state(2), filled(2 << 20, 8.0f)));
    CHECK(nnx::state_equal(reader.restore_state(1), big));
  }
  {
    ckpt::CheckpointManager manager(dir.string(), {.enable_async_checkpointing = true});
    REQUIRE(manager.save(3, filled(2 << 20, 9.0f)));
    manager.close();  // waits, then releases the lock
    CHECK(manager.all_steps() == std::vector<std::int64_t>{1, 2, 3});
    ckpt::CheckpointManager second_writer(dir.string());  // the lock is free again
    CHECK(second_writer.latest_step() == std::optional<std::int64_t>(3));
    CHECK(nnx::state_equal(second_writer.restore_state(3), filled(2 << 20, 9.0f)));
    try {
      manager.save(4, big);
      FAIL("save after close must throw");
    } catch (const ckpt::CheckpointError& e) {
      CHECK(e.code() == ckpt::ErrorCode::usage);
      CHECK(std::string(e.what()).find("closed") != std::string::npos);
    }
  }
  CHECK(leftovers(dir.string()).empty());
}

TEST_CASE("a failing async save surfaces at wait_until_finished, the next save or close, and is never listed") {
  // The failure: a file size limit (RLIMIT_FSIZE) in a forked child makes write() fail with EFBIG.
  // It works for root too, unlike a read-only directory.
  TempDir dir("nnx-async-fail");
  const nnx::State small = filled(1000, 1.0f);     // 4 KB
  const nnx::State large = filled(1 << 20, 2.0f);  // 4 MB, above the limit
  const nnx_test::Finished child = nnx_test::run_forked([&] {
    nnx_test::Report r;
    const rlimit limit{256 << 10, 256 << 10};
    if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) throw std::runtime_error("setrlimit failed");
    ::signal(SIGXFSZ, SIG_IGN);
    auto record = [&](const std::string& key, const std::function<void()>& action) {
      try {
        action();
        r.add(key, "no error");
      } catch (const ckpt::CheckpointError& e) {
        r.add(key, async_code_name(e.code())).add(key + ".what", e.what());
      } catch (const std::exception& e) {
        r.add(key, std::string("other exception: ") + e.what());
      }
    };
    ckpt::CheckpointManager m(dir.string(), {.enable_async_checkpointing = true});
    m.save(1, small);
    m.wait_until_finished();
    r.add("save2.returned", m.save(2, large) ? "true" : "false");  // returns: the error comes later
    record("wait", [&] { m.wait_until_finished(); });
    record("wait.again", [&] { m.wait_until_finished(); });  // reported once
    r.add("steps.after_wait", join_steps(m.all_steps()));
    m.save(3, large);
    record("next_save", [&] { m.save(4, small); });  // step 3's error; step 4 not saved
    r.add("steps.after_next_save", join_steps(m.all_steps()));
    record("retry", [&] {
      m.save(4, small);
      m.wait_until_finished();
    });
    m.save(5, large);
    record("close", [&] { m.close(); });
    r.add("steps.after_close", join_steps(m.all_steps()));
    {
      ckpt::CheckpointManager m2(dir.string(), {.enable_async_checkpointing = true});
      m2.save(6, large);
    }  // the destructor waits and reports the failure on stderr; it must not throw
    r.add("destructor", "returned");
    return r.str();
  });
  INFO("child stdout: " << child.out);
  INFO("child stderr: " << child.err);
  REQUIRE(child.exit_code() == 0);
  auto seen = nnx_test::parse_report(child.out);
  CHECK(seen["save2.returned"] == "true");
  for (const auto& [key, step] : std::vector<std::pair<std::string, std::string>>{{"wait", "2"}, {"next_save", "3"}, {"close", "5"}}) {
    CAPTURE(key);
    CHECK(seen[key] == "io");
    const std::string& what = seen[key + ".what"];
    CHECK(what.find(dir.string() + "/" + step + ".nnx-tmp-") != std::string::npos);  // names the file
    CHECK(what.find("default.nnxa") != std::string::npos);
    CHECK(what.find("earlier steps are intact") != std::string::npos);
  }
  CHECK(seen["wait.again"] == "no error");
  CHECK(seen["retry"] == "no error");
  CHECK(seen["steps.after_wait"] == "1");
  CHECK(seen["steps.after_next_save"] == "1");
  CHECK(seen["steps.after_close"] == "1,4");
  CHECK(seen["destructor"] == "returned");
  CHECK(child.err.find("a pending save of '" + dir.string() + "' failed") != std::string::npos);
  CHECK(child.err.find("6.nnx-tmp-") != std::string::npos);

  ckpt::CheckpointManager reader(dir.string(), {.read_only = true});
  CHECK(reader.all_steps() == std::vector<std::int64_t>{1, 4});
  for (std::int64_t step : {1, 4}) {
    CHECK(nnx::state_equal(reader.restore(step, small.as_abstract()), small));
    ckpt::ArrayFileReader file(reader.step_directory(step) + "/default.nnxa");
    CHECK(file.verify().empty());
  }
  CHECK(leftovers(dir.string()).empty());
}
