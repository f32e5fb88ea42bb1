// Threefry-2x32 known answers, key derivation, and Rngs streams as ordinary (restorable) state.
#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <nnx/nnx.hpp>
#include <set>
#include <string>
#include <vector>

namespace {

using nnx::Key;

std::uint32_t count_of(const nnx::State& s, const char* path) { return s.at(path).value.item<std::uint32_t>(); }

}  // namespace

TEST_CASE("threefry2x32 matches the Random123 known-answer vectors (20 rounds)") {
  struct Vector {
    Key key;
    std::array<std::uint32_t, 2> counter;
    std::array<std::uint32_t, 2> expected;
  };
  const Vector vectors[] = {
      {{0x00000000u, 0x00000000u}, {0x00000000u, 0x00000000u}, {0x6b200159u, 0x99ba4efeu}},
      {{0xffffffffu, 0xffffffffu}, {0xffffffffu, 0xffffffffu}, {0x1cb996fcu, 0xbb002be7u}},
      {{0x13198a2eu, 0x03707344u}, {0x243f6a88u, 0x85a308d3u}, {0xc4923a9cu, 0x483df7a0u}},
  };
  for (const Vector& v : vectors) {
    CAPTURE(v.key.hi);
    CAPTURE(v.counter[0]);
    const auto out = nnx::threefry2x32(v.key, v.counter);
    CHECK(out[0] == v.expected[0]);
    CHECK(out[1] == v.expected[1]);
  }
}

TEST_CASE("key_from_seed splits the 64-bit seed into {high word, low word}") {
  CHECK(nnx::key_from_seed(0) == Key{0, 0});
  CHECK(nnx::key_from_seed(42) == Key{0, 42});
  CHECK(nnx::key_from_seed(0x0000000100000002ull) == Key{1, 2});
  CHECK(nnx::key_from_seed(0xdeadbeefcafef00dull) == Key{0xdeadbeefu, 0xcafef00du});
}

TEST_CASE("fold_in is threefry(key, {0, data}) and separates data values") {
  const Key base = nnx::key_from_seed(42);
  std::set<std::pair<std::uint32_t, std::uint32_t>> seen;
  for (std::uint32_t data : {0u, 1u, 2u, 7u, 1000u, 0xffffffffu}) {
    CAPTURE(data);
    const Key k = nnx::fold_in(base, data);
    const auto w = nnx::threefry2x32(base, {0u, data});
    CHECK(k == Key{w[0], w[1]});
    seen.insert({k.hi, k.lo});
  }
  CHECK(seen.size() == 6);
  // The first known-answer vector doubles as fold_in(key_from_seed(0), 0).
  CHECK(nnx::fold_in(nnx::key_from_seed(0), 0) == Key{0x6b200159u, 0x99ba4efeu});
  // fold_in depends on the key too.
  CHECK_FALSE(nnx::fold_in(nnx::key_from_seed(1), 3) == nnx::fold_in(nnx::key_from_seed(2), 3));
  // random_bits packs the two words of threefry(key, {index, attempt}).
  const auto w = nnx::threefry2x32(base, {5u, 2u});
  CHECK(nnx::random_bits(base, 5, 2) == ((std::uint64_t{w[0]} << 32) | w[1]));
}

TEST_CASE("a draw is fold_in(stream key, count) and increments the stream's RngCount") {
  nnx::Rngs rngs({{"params", 7}, {"dropout", 8}});
  const Key params_key = nnx::key_from_seed(7);
  for (std::uint32_t i = 0; i < 4; ++i) {
    CAPTURE(i);
    CHECK(count_of(nnx::state(rngs), "params/count") == i);
    CHECK(rngs.params() == nnx::fold_in(params_key, i));
    CHECK(count_of(nnx::state(rngs), "params/count") == i + 1);
    CHECK(rngs.stream("params").current_count() == i + 1);
  }
  // Streams count independently.
  CHECK(count_of(nnx::state(rngs), "dropout/count") == 0);
  CHECK(rngs.dropout() == nnx::fold_in(nnx::key_from_seed(8), 0));
  CHECK(count_of(nnx::state(rngs), "dropout/count") == 1);
  CHECK(count_of(nnx::state(rngs), "params/count") == 4);
  // The stream's key itself never changes.
  CHECK(rngs.stream("params").current_key() == params_key);
}

TEST_CASE("unknown stream names fall back to 'default'") {
  nnx::Rngs rngs(3);
  CHECK(rngs.stream_names() == std::vector<std::string>{"default"});
  CHECK(rngs.has_stream("default"));
  CHECK_FALSE(rngs.has_stream("params"));
  const Key base = nnx::key_from_seed(3);
  CHECK(rngs.params() == nnx::fold_in(base, 0));
  CHECK(rngs("whatever") == nnx::fold_in(base, 1));
  CHECK(rngs() == nnx::fold_in(base, 2));
  CHECK(&rngs.stream("dropout") == &rngs.stream("default"));
  CHECK(rngs.stream("default").current_count() == 3);
  // A stream that exists is used even when "default" exists too.
  nnx::Rngs both({{"default", 1}, {"params", 2}});
  CHECK(both.params() == nnx::fold_in(nnx::key_from_seed(2), 0));
  CHECK(both.stream("default").current_count() == 0);
}

TEST_CASE("without a default stream the error names the requested stream and the existing ones") {
  nnx::Rngs rngs({{"params", 0}, {"noise", 1}});
  CHECK_THROWS_AS(rngs("dropout"), nnx::Error);
  try {
    rngs.dropout();
    FAIL("expected nnx::Error");
  } catch (const nnx::Error& e) {
    const std::string msg = e.what();
    CHECK(msg.find("'dropout'") != std::string::npos);
    CHECK(msg.find("params") != std::string::npos);
    CHECK(msg.find("noise") != std::string::npos);
  }
  // The failed draw consumed nothing.
  CHECK(rngs.stream("params").current_count() == 0);
  CHECK(rngs.stream("noise").current_count() == 0);
}

TEST_CASE("duplicate or empty stream names are rejected") {
  CHECK_THROWS_WITH_AS(nnx::Rngs({{"params", 0}, {"params", 1}}), doctest::Contains("'params' is given twice"),
                       nnx::Error);
  CHECK_THROWS_WITH_AS(nnx::Rngs({{"", 0}}), doctest::Contains("must not be empty"), nnx::Error);
}

TEST_CASE("streams are state: params/key (RngKey uint32[2]) and params/count (RngCount uint32[])") {
  nnx::Rngs rngs({{"params", 0x0000000500000006ull}, {"dropout", 1}});
  const nnx::State s = nnx::state(rngs);
  std::vector<std::string> paths;
  for (const auto& [path, var] : s) paths.push_back(path.str());
  CHECK(paths == std::vector<std::string>{"dropout/count", "dropout/key", "params/count", "params/key"});

  const nnx::Variable& key = s.at("params/key");
  CHECK(key.kind() == nnx::RngKey::static_kind());
  CHECK(key.kind().is_a(nnx::RngState::static_kind()));
  CHECK(key.value.shape_dtype() == nnx::ShapeDtype{{2}, nnx::DType::uint32});
  CHECK(key.meta("tag") == "params");
  CHECK(key.value.data<std::uint32_t>()[0] == 5u);
  CHECK(key.value.data<std::uint32_t>()[1] == 6u);

  const nnx::Variable& count = s.at("params/count");
  CHECK(count.kind() == nnx::RngCount::static_kind());
  CHECK(count.value.shape_dtype() == nnx::ShapeDtype{{}, nnx::DType::uint32});
  CHECK(count.meta("tag") == "params");
  CHECK(s.at("dropout/key").meta("tag") == "dropout");

  // Filters see them as RNG state and by tag.
  CHECK(nnx::state(rngs, nnx::RngKey{}).size() == 2);
  CHECK(nnx::state(rngs, nnx::WithTag("dropout")).size() == 2);
  CHECK(nnx::state(rngs, nnx::Param{}).empty());
}

TEST_CASE("restoring an old State with update replays the same draws") {
  nnx::Rngs rngs({{"params", 11}, {"dropout", 12}});
  rngs.params();  // start from a non-zero count
  const nnx::State saved = nnx::state(rngs);
  std::vector<Key> first;
  for (int i = 0; i < 5; ++i) first.push_back(i % 2 ? rngs.dropout() : rngs.params());
  CHECK(count_of(nnx::state(rngs), "params/count") == 4);
  // The saved State was not changed by the draws (copy-on-write).
  CHECK(count_of(saved, "params/count") == 1);
  CHECK(count_of(saved, "dropout/count") == 0);

  nnx::update(rngs, saved);
  CHECK(rngs.stream("params").current_count() == 1);
  std::vector<Key> second;
  for (int i = 0; i < 5; ++i) second.push_back(i % 2 ? rngs.dropout() : rngs.params());
  CHECK(first == second);

  // A fresh Rngs with other seeds restored from `saved` draws the same sequence as well.
  nnx::Rngs other({{"params", 99}, {"dropout", 98}});
  nnx::update(other, saved);
  std::vector<Key> third;
  for (int i = 0; i < 5; ++i) third.push_back(i % 2 ? other.dropout() : other.params());
  CHECK(first == third);
}

TEST_CASE("draws inside eval_shape / AbstractScope do not throw") {
  SUBCASE("Rngs built inside eval_shape: abstract state, fixed key") {
    auto rngs = nnx::eval_shape([] { return nnx::Rngs({{"params", 0}, {"dropout", 1}}); });
    const nnx::State s = nnx::state(rngs);
    CHECK(s.size() == 4);
    for (const auto& [path, var] : s) CHECK(var.value.is_abstract());
    Key k{1, 1};
    CHECK_NOTHROW(k = rngs.params());
    CHECK(k == Key{});
    CHECK_NOTHROW(rngs.dropout());
  }
  SUBCASE("a real Rngs drawn from while a scope is active: fixed key, nothing counted (eval_shape changes nothing outside)") {
    nnx::Rngs rngs({{"params", 5}, {"dropout", 6}});
    const nnx::State before = nnx::state(rngs);
    Key k{1, 1};
    {
      nnx::AbstractScope scope;
      CHECK(nnx::AbstractScope::active());
      CHECK_NOTHROW(k = rngs.params());
      CHECK_NOTHROW(rngs.dropout());
    }
    CHECK_FALSE(nnx::AbstractScope::active());
    CHECK(k == Key{});
    CHECK(rngs.stream("params").current_count() == 0);
    CHECK(nnx::state_equal(nnx::state(rngs), before));
    CHECK(rngs.params() == nnx::fold_in(nnx::key_from_seed(5), 0));  // outside the scope: real draws again
  }
}
