// Tests of CheckpointManager (nnx/checkpoint/manager.hpp): saving, listing, restoring, metadata,
// directory naming, read-only and locked managers, leftovers of interrupted saves.
#include <doctest/doctest.h>

#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iterator>
#include <limits>
#include <set>
#include <string>
#include <unistd.h>
#include <vector>
#include <nnx/checkpoint/json.hpp>

#include "fixtures.hpp"

using namespace checkpoint_test;

namespace {

struct TrainConfig {
  int epoch = 0;
  std::string name;
  std::vector<double> schedule;
  template <class Archive> void serialize(Archive& ar) {
    ar(CEREAL_NVP(epoch), CEREAL_NVP(name), CEREAL_NVP(schedule));
  }
  bool operator==(const TrainConfig&) const = default;
};

nnx::models::MLPConfig mlp_config() { return {.in = 3, .hidden = {8, 4}, .out = 2}; }

nnx::models::MLP make_model(std::uint64_t seed) {
  nnx::Rngs rngs(seed);
  return nnx::models::MLP(mlp_config(), rngs);
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

TEST_CASE("a single State saves as item \"default\" and restores bitwise, steps are listed in order") {
  TempDir dir("nnx-manager");
  ckpt::CheckpointManager manager(dir.string());
  CHECK(manager.all_steps().empty());
  CHECK_FALSE(manager.latest_step().has_value());
  CHECK(manager.directory() == dir.string());
  for (std::int64_t step : {0, 5, 12}) CHECK(manager.save(step, hand_state(static_cast<double>(step))));
  CHECK(manager.all_steps() == Steps{0, 5, 12});
  CHECK(manager.latest_step() == 12);
  for (std::int64_t step : {0, 5, 12}) {
    CAPTURE(step);
    const State want = hand_state(static_cast<double>(step));
    CHECK(nnx::state_equal(manager.restore(step, want.as_abstract()), want));
    CHECK(nnx::state_equal(manager.restore_state(step), want));  // kinds and metadata as stored
  }
  CHECK(nnx::state_equal(manager.restore(hand_state().as_abstract()), hand_state(12.0)));  // latest
  CHECK(manager.metadata(5).items.size() == 1);
  CHECK(manager.metadata(5).items[0].name == "default");
  CHECK(fs::exists(dir.path() / "5" / "default.nnxa"));
  CHECK(fs::exists(dir.path() / "5" / "_COMMIT"));
  CHECK(fs::exists(dir.path() / "5" / "_METADATA.json"));
}

TEST_CASE("a Composite of several States and a JSON item round-trips, metadata describes it") {
  TempDir dir("nnx-manager");
  nnx::models::MLP model = make_model(1);
  const TrainConfig config{7, "run \"alpha\"/ü", {0.1, 1e-3, 3.0, -0.0}};
  State data;
  data.set(Path{"epoch"}, nnx::Variable(nnx::Kind::root(), Array::scalar<std::int64_t>(7)));
  data.set(Path{"order", 0}, nnx::Variable(nnx::Kind::root(), Array::from_values<std::uint32_t>({3}, {2u, 0u, 1u})));
  const ckpt::Composite items =
      ckpt::Composite().add("model", nnx::state(model)).add("opt", hand_state(2.0)).add("data", data).add_json("config", config);

  ckpt::CheckpointManager manager(dir.string());
  const std::int64_t before = now_ms();
  REQUIRE(manager.save(100, items, {{"val_loss", 0.25}, {"accuracy", 0.875}}));
  const std::int64_t after = now_ms();

  const ckpt::Composite targets = ckpt::Composite()
                                      .add("model", nnx::state(model).as_abstract())
                                      .add("opt", hand_state().as_abstract())
                                      .add("data", data.as_abstract())
                                      .add("config", ckpt::JsonItem());
  const ckpt::Composite restored = manager.restore(100, targets);
  CHECK(restored.names() == std::vector<std::string>{"config", "data", "model", "opt"});
  CHECK(nnx::state_equal(restored.state("model"), nnx::state(model)));
  CHECK(nnx::state_equal(restored.state("opt"), hand_state(2.0)));
  CHECK(nnx::state_equal(restored.state("data"), data));
  CHECK(restored.json("config").get<TrainConfig>() == config);
  CHECK(manager.restore_json(100, "config").get<TrainConfig>() == config);

  // Only some items: the others are not read.
  const ckpt::Composite just_opt = manager.restore(std::nullopt, ckpt::Composite().add("opt", hand_state().as_abstract()));
  CHECK(just_opt.names() == std::vector<std::string>{"opt"});

  const ckpt::StepMetadata m = manager.metadata(100);
  CHECK(m.step == 100);
  CHECK(m.created_unix_ms >= before - 1000);
  CHECK(m.created_unix_ms <= after + 1000);
  CHECK(m.metrics == ckpt::Metrics{{"accuracy", 0.875}, {"val_loss", 0.25}});
  REQUIRE(m.items.size() == 4);
  std::uint64_t total = 0;
  using ckpt::ItemType;
  const std::vector<std::pair<std::string, ItemType>> expected = {
      {"config", ItemType::json}, {"data", ItemType::state}, {"model", ItemType::state}, {"opt", ItemType::state}};
  for (std::size_t i = 0; i < m.items.size(); ++i) {
    const ckpt::ItemInfo& item = m.items[i];
    CAPTURE(item.name);
    CHECK(item.name == expected[i].first);
    CHECK(item.type == expected[i].second);
    CHECK(item.file == item.name + (item.type == ItemType::state ? ".nnxa" : ".json"));
    CHECK(item.bytes == fs::file_size(dir.path() / "100" / item.file));
    total += item.bytes;
  }
  CHECK(m.bytes() == total);
  CHECK(m.items[2].bytes > nnx::state(model).num_bytes());  // the model's arrays and its index
  CHECK(ckpt::read_step_metadata(manager.step_directory(100)).metrics == m.metrics);
  // On disk the item types are the words of docs/checkpoint-format.md, whatever the C++ spelling.
  std::ifstream file((dir.path() / "100" / "_METADATA.json").string());
  const std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  CHECK_CONTAINS(text, R"("type": "json")");
  CHECK_CONTAINS(text, R"("type": "state")");
  CHECK(ckpt::parse_item_type("json") == ItemType::json);
  CHECK(ckpt::parse_item_type("state") == ItemType::state);
  CHECK_FALSE(ckpt::parse_item_type("State").has_value());
  CHECK(std::string(ckpt::item_type_name(ItemType::json)) == "json");
}

TEST_CASE("should_save follows save_interval_steps, save declines unless forced, a step is saved once") {
  TempDir dir("nnx-manager");
  ckpt::CheckpointManager manager(dir.string(), {.save_interval_steps = 10});
  CHECK(manager.should_save(0));
  CHECK_FALSE(manager.should_save(5));
  CHECK(manager.should_save(10));
  CHECK_FALSE(manager.should_save(-10));

  CHECK_FALSE(manager.save(5, hand_state()));
  CHECK(manager.all_steps().empty());
  CHECK(manager.save(10, hand_state()));
  CHECK(manager.save(5, hand_state(), {}, /*force=*/true));  // force overrides the interval ...
  CHECK(manager.all_steps() == Steps{5, 10});
  CHECK_FALSE(manager.should_save(10));  // ... saved already
  CHECK_FALSE(manager.should_save(0));   // before the latest step
  CHECK_FALSE(manager.save(10, hand_state()));

  const ckpt::CheckpointError e = expect_checkpoint_error([&] { manager.save(10, hand_state(1.0), {}, true); });
  CHECK(e.code() == ckpt::ErrorCode::usage);
  CHECK_CONTAINS(e.what(), "step 10 already exists");
  CHECK_CONTAINS(e.what(), "delete_step");
  CHECK(nnx::state_equal(manager.restore_state(10), hand_state()));  // untouched

  CHECK(expect_checkpoint_error([&] { manager.save(-1, hand_state(), {}, true); }).code() == ckpt::ErrorCode::usage);
  CHECK(expect_checkpoint_error([&] { manager.save(20, ckpt::Composite()); }).code() == ckpt::ErrorCode::usage);

  struct BadOptions {
    const char* name;
    ckpt::Options options;
    const char* message;
  };
  for (const BadOptions& bad : {BadOptions{"interval 0", {.save_interval_steps = 0}, "save_interval_steps must be >= 1"},
                                BadOptions{"max_to_keep 0", {.max_to_keep = 0}, "max_to_keep must be >= 1"},
                                BadOptions{"keep_period 0", {.keep_period = 0}, "keep_period must be >= 1"}}) {
    CAPTURE(std::string(bad.name));
    const ckpt::CheckpointError err = expect_checkpoint_error([&] { ckpt::CheckpointManager m(dir.file("other"), bad.options); });
    CHECK(err.code() == ckpt::ErrorCode::usage);
    CHECK_CONTAINS(err.what(), bad.message);
  }
}

TEST_CASE("delete_step removes a step, reload sees steps saved by another manager") {
  TempDir dir("nnx-manager");
  {
    ckpt::CheckpointManager first(dir.string());
    for (std::int64_t step : {1, 2, 3}) first.save(step, hand_state(static_cast<double>(step)));
    first.delete_step(2);
    CHECK(first.all_steps() == Steps{1, 3});
    CHECK_FALSE(fs::exists(dir.path() / "2"));
    const ckpt::CheckpointError e = expect_checkpoint_error([&] { first.delete_step(2); });
    CHECK(e.code() == ckpt::ErrorCode::not_found);
    CHECK_CONTAINS(e.what(), "steps: 1, 3");
  }
  ckpt::CheckpointManager reader(dir.string(), {.read_only = true});
  CHECK(reader.all_steps() == Steps{1, 3});
  {
    ckpt::CheckpointManager second(dir.string());  // the first one is closed: the lock is free
    CHECK(second.all_steps() == Steps{1, 3});
    second.save(4, hand_state(4.0));
  }
  CHECK(reader.all_steps() == Steps{1, 3});  // a snapshot until reload
  reader.reload();
  CHECK(reader.all_steps() == Steps{1, 3, 4});
  CHECK(nnx::state_equal(reader.restore_state(), hand_state(4.0)));
}

TEST_CASE("a read_only manager restores but refuses to write, one writer per directory") {
  TempDir dir("nnx-manager");
  auto writer = std::make_unique<ckpt::CheckpointManager>(dir.string());
  writer->save(1, hand_state());

  ckpt::CheckpointManager reader(dir.string(), {.read_only = true});  // alongside the writer
  CHECK(nnx::state_equal(reader.restore(1, hand_state().as_abstract()), hand_state()));
  CHECK_FALSE(reader.should_save(2));
  const ckpt::CheckpointError ro = expect_checkpoint_error([&] { reader.save(2, hand_state()); });
  CHECK(ro.code() == ckpt::ErrorCode::read_only);
  CHECK_CONTAINS(ro.what(), dir.string());
  CHECK_CONTAINS(ro.what(), "read_only = false");
  CHECK(expect_checkpoint_error([&] { reader.delete_step(1); }).code() == ckpt::ErrorCode::read_only);
  CHECK(reader.all_steps() == Steps{1});

  const ckpt::CheckpointError locked = expect_checkpoint_error([&] { ckpt::CheckpointManager second(dir.string()); });
  CHECK(locked.code() == ckpt::ErrorCode::locked);
  CHECK_CONTAINS(locked.what(), dir.string());
  CHECK_CONTAINS(locked.what(), "read_only = true");
  CHECK_CONTAINS(locked.what(), std::to_string(::getpid()));  // the holder's process

  writer->close();
  CHECK(expect_checkpoint_error([&] { writer->save(2, hand_state()); }).code() == ckpt::ErrorCode::usage);  // closed
  ckpt::CheckpointManager next(dir.string());  // the lock is free again
  CHECK(next.save(2, hand_state(2.0)));
  writer.reset();  // destroying a closed manager does not touch the new writer's lock
  CHECK(expect_checkpoint_error([&] { ckpt::CheckpointManager third(dir.string()); }).code() == ckpt::ErrorCode::locked);

  const ckpt::CheckpointError missing = expect_checkpoint_error([&] { ckpt::CheckpointManager m(dir.file("nope"), {.read_only = true}); });
  CHECK(missing.code() == ckpt::ErrorCode::not_found);
  CHECK_CONTAINS(missing.what(), dir.file("nope"));
  CHECK_FALSE(fs::exists(dir.path() / "nope"));
  CHECK(expect_checkpoint_error([&] { ckpt::CheckpointManager m(dir.file("nope"), {.create = false}); }).code() ==
        ckpt::ErrorCode::not_found);
  { ckpt::CheckpointManager created(dir.file("new/nested")); }
  CHECK(fs::is_directory(dir.path() / "new" / "nested"));
}

TEST_CASE("restoring nothing or an unknown step is not_found, naming what exists") {
  TempDir dir("nnx-manager");
  ckpt::CheckpointManager manager(dir.string());
  const ckpt::CheckpointError none = expect_checkpoint_error([&] { manager.restore(hand_state().as_abstract()); });
  CHECK(none.code() == ckpt::ErrorCode::not_found);
  CHECK_CONTAINS(none.what(), "nothing to restore");
  CHECK_CONTAINS(none.what(), dir.string());
  CHECK(expect_checkpoint_error([&] { manager.restore_pure_dict(); }).code() == ckpt::ErrorCode::not_found);
  CHECK(expect_checkpoint_error([&] { manager.metadata(3); }).code() == ckpt::ErrorCode::not_found);

  for (std::int64_t step : {3, 6, 9}) manager.save(step, hand_state());
  const ckpt::CheckpointError unknown = expect_checkpoint_error([&] { manager.restore(7, hand_state().as_abstract()); });
  CHECK(unknown.code() == ckpt::ErrorCode::not_found);
  CHECK_CONTAINS(unknown.what(), "step 7 is not in");
  CHECK_CONTAINS(unknown.what(), "3, 6, 9");
}

TEST_CASE("restore_pure_dict keeps integer keys, replace_by_pure_dict and from_pure_dict rebuild the State") {
  TempDir dir("nnx-manager");
  nnx::models::MLP model = make_model(3);
  const State saved = nnx::state(model);
  ckpt::CheckpointManager manager(dir.string());
  manager.save(1, saved);

  const nnx::PureDict d = manager.restore_pure_dict();
  const nnx::PureDict::ConstRef layers = d.at("layers");
  CHECK(layers.size() == 3);
  CHECK(layers.contains(nnx::PathKey(0)));
  CHECK(layers.contains(nnx::PathKey(2)));
  CHECK_FALSE(layers.contains(nnx::PathKey("0")));
  CHECK(nnx::array_equal(layers.at(1).at("kernel").array(), model.layers[1].kernel.value));
  CHECK(d.flatten().size() == saved.size());

  State rebuilt = saved.as_abstract();
  rebuilt.replace_by_pure_dict(d);
  CHECK(nnx::state_equal(rebuilt, saved));
  CHECK(nnx::state_equal(State::from_pure_dict(d), saved));

  // Kinds and metadata come back with restore_state.
  manager.save(2, hand_state(0.5));
  const State typed = manager.restore_state(2);
  CHECK(nnx::state_equal(typed, hand_state(0.5)));
  CHECK(typed.at("rngs/count").kind() == nnx::RngCount::static_kind());
  CHECK(typed.at("layers/0/w").meta("sharding") == "rows");
  // The pure dict is a view of that same State: from_pure_dict gives the kinds and metadata back too.
  CHECK(nnx::state_equal(State::from_pure_dict(manager.restore_pure_dict(2)), hand_state(0.5)));
}

TEST_CASE("eval_shape -> split -> restore(latest, abstract) -> merge gives back the saved model") {
  TempDir dir("nnx-manager");
  nnx::models::MLP model = make_model(11);
  {
    ckpt::CheckpointManager manager(dir.string());
    manager.save(10, nnx::state(make_model(99)));
    manager.save(20, nnx::state(model));
  }
  ckpt::CheckpointManager manager(dir.string(), {.read_only = true});
  auto abstract = nnx::eval_shape([] { return make_model(0); });
  auto [graphdef, target] = nnx::split(abstract);
  CHECK(target.has_abstract());
  State restored = manager.restore(manager.latest_step(), target);
  CHECK_FALSE(restored.has_abstract());
  nnx::models::MLP back = nnx::merge(graphdef, restored);
  CHECK(nnx::state_equal(nnx::state(back), nnx::state(model)));
  const Array x = Array::from_values<float>({2, 3}, {0.5f, -1.f, 2.f, 0.f, 3.f, -0.25f});
  CHECK(nnx::array_equal(back(x), model(x)));
  CHECK_FALSE(nnx::array_equal(nnx::merge(graphdef, manager.restore(10, target))(x), model(x)));
}

TEST_CASE("non-finite metrics and abstract States are refused before anything is written") {
  TempDir dir("nnx-manager");
  ckpt::CheckpointManager manager(dir.string());
  const std::set<std::string> before = entries(dir);
  for (double bad : {std::nan(""), std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity()}) {
    CAPTURE(bad);
    const ckpt::CheckpointError e = expect_checkpoint_error([&] { manager.save(1, hand_state(), {{"ok", 1.0}, {"loss", bad}}); });
    CHECK(e.code() == ckpt::ErrorCode::usage);
    CHECK_CONTAINS(e.what(), "'loss'");
    CHECK_CONTAINS(e.what(), "finite");
  }
  const ckpt::CheckpointError abstract = expect_checkpoint_error([&] {
    manager.save(1, ckpt::Composite().add("model", hand_state()).add("opt", hand_state().as_abstract()));
  });
  CHECK(abstract.code() == ckpt::ErrorCode::usage);
  CHECK_CONTAINS(abstract.what(), "item 'opt'");
  CHECK_CONTAINS(abstract.what(), "bn/mean");
  CHECK(manager.all_steps().empty());
  CHECK(entries(dir) == before);
  CHECK(manager.save(1, hand_state(), {{"loss", 0.5}}));
  CHECK(manager.metadata(1).metrics.at("loss") == 0.5);
}
