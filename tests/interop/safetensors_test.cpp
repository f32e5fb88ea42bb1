// safetensors: the round trip State -> file -> State (randomized, seeded), the reference writer's
// exact bytes, files written by others, the names rule, and refusals when saving.
#include <doctest/doctest.h>

#include <cstring>
#include <random>

#include "fixtures.hpp"

using namespace interop_test;

namespace {

// A random State of every dtype and of keys that test the names rule: integer keys, a string key
// that looks like a number, keys holding '.', an empty key, metadata with JSON's special characters.
State st_random_state(std::uint32_t seed) {
  std::mt19937 rng(seed);  // the engine's output is fixed by the standard; std:: distributions are not
  const DType dtypes[] = {DType::float32, DType::float64, DType::int32, DType::int64, DType::uint32};
  const Path paths[] = {Path{"layers", 0, "kernel"}, Path{"layers", 10, "bias"}, Path{"heads", "0", "kernel"},
                        Path{"odd.name", "x"}, Path{"odd", "name.y"}, Path{"", "empty"}, Path{"neg", -3},
                        Path{"scalar"}, Path{"zero size"}, Path{"uni\xc3\xa9", "\"q\"\n"}};
  const nnx::Kind kinds[] = {nnx::Param::static_kind(), nnx::BatchStat::static_kind(), nnx::RngKey::static_kind(),
                             nnx::Kind::from_name("InteropTestKind")};
  State s;
  for (const Path& p : paths) {
    nnx::Shape shape;
    if (p != Path{"scalar"})
      for (int r = static_cast<int>(rng() % 3) + 1; r > 0; --r) shape.push_back(p == Path{"zero size"} ? 0 : static_cast<std::int64_t>(rng() % 5) + 1);
    Array a = Array::empty(shape, dtypes[rng() % 5]);
    auto* bytes = static_cast<unsigned char*>(a.nbytes() ? a.mutable_raw_data() : nullptr);
    for (std::size_t i = 0; i < a.nbytes(); ++i) bytes[i] = static_cast<unsigned char>(rng());
    nnx::Metadata meta;
    if (rng() % 2) meta = {{"tag", "dropout"}, {"quote\"back\\slash", "tab\tnl\n\x01"}};
    s.set(p, nnx::Variable(kinds[rng() % 4], a, meta));
  }
  return s;
}

}  // namespace

TEST_CASE("safetensors: nnx -> file -> nnx is exact: paths, integer keys, kinds, metadata, every dtype (20 seeds)") {
  TempDir dir("nnx-st");
  for (std::uint32_t seed = 1; seed <= 20; ++seed) {
    CAPTURE(seed);
    const State s = st_random_state(seed);
    interop::save_safetensors(dir.file("s.safetensors"), s, {.metadata = {{"framework", "nnx"}}});
    const State back = interop::load_safetensors(dir.file("s.safetensors"));
    REQUIRE(nnx::state_equal(s, back));
    const nnx::PureDict d = interop::load_safetensors_dict(dir.file("s.safetensors"));
    CHECK(d["layers"][10]["bias"].array().dtype() == s.at(Path{"layers", 10, "bias"}).value.dtype());
    CHECK(d["heads"]["0"]["kernel"].array().shape() == s.at(Path{"heads", "0", "kernel"}).value.shape());
    CHECK(interop::read_safetensors(dir.file("s.safetensors")).metadata.at("framework") == "nnx");
  }
  CHECK(leftovers(dir.string()).empty());  // no temporary file left beside
}

TEST_CASE("safetensors: the bytes the reference writer produces (its own test vectors)") {
  TempDir dir("nnx-st");
  const float values[] = {0, 1, 2, 3, 4, 5};
  struct Case {
    std::string name;
    nnx::Shape shape;
    std::string header;
  };
  const Case cases[] = {
      // 64 bytes of JSON: no padding.
      {"attn.0", {1, 2, 3}, R"({"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}})"},
      // 65 bytes of JSON: 7 spaces pad it to 72.
      {"attn0", {1, 1, 2, 3}, R"({"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}})" + std::string(7, ' ')},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    interop::SafetensorsFile f;
    f.tensors.push_back({c.name, Array::from_values<float>(c.shape, values)});
    interop::write_safetensors(dir.file("t.safetensors"), f);
    std::string data(24, '\0');
    std::memcpy(data.data(), values, 24);
    CHECK(read_bytes(dir.file("t.safetensors")) == st_file(c.header, data));
  }
  interop::write_safetensors(dir.file("e.safetensors"), {});
  CHECK(read_bytes(dir.file("e.safetensors")) == st_file("{}      "));
  interop::write_safetensors(dir.file("m.safetensors"), {{}, {{"framework", "pt"}}});
  CHECK(read_bytes(dir.file("m.safetensors")) == st_file(R"({"__metadata__":{"framework":"pt"}})" + std::string(5, ' ')));
}

TEST_CASE("safetensors: tensors are laid out by dtype alignment, largest first, then by name, as the reference sorts") {
  TempDir dir("nnx-st");
  interop::SafetensorsFile f;
  f.tensors = {{"b_i32", Array::ones({1}, DType::int32)},     {"a_i32", Array::ones({3}, DType::int32)},
               {"f32", Array::ones({1}, DType::float32)},     {"u32", Array::ones({1}, DType::uint32)},
               {"f64", Array::ones({1}, DType::float64)},     {"i64", Array::ones({1}, DType::int64)},
               {"a_f32", Array::ones({2}, DType::float32)}};
  interop::write_safetensors(dir.file("o.safetensors"), f);
  std::vector<std::string> order;
  for (const auto& t : interop::read_safetensors(dir.file("o.safetensors")).tensors) order.push_back(t.name);
  CHECK(order == std::vector<std::string>{"i64", "f64", "a_f32", "f32", "u32", "a_i32", "b_i32"});
}

TEST_CASE("safetensors: a file without nnx metadata loads as Params, canonical decimal components become integer keys") {
  TempDir dir("nnx-st");
  struct Case {
    std::string name;
    Path path;
  };
  const Case cases[] = {
      {"layers.0.weight", Path{"layers", 0, "weight"}},  {"layers.10.bias", Path{"layers", 10, "bias"}},
      {"a.007", Path{"a", "007"}},                        {"x.-1", Path{"x", "-1"}},
      {"big.99999999999999999999", Path{"big", "99999999999999999999"}},
      {"9223372036854775807", Path{std::int64_t{9223372036854775807}}},
      {"a..b", Path{"a", "", "b"}},                       {"plain", Path{"plain"}},
  };
  std::string header = "{";
  std::uint64_t at = 0;
  for (const Case& c : cases) {
    CHECK(interop::path_from_safetensors_name(c.name) == c.path);
    if (c.path.str() != "a//b") CHECK(interop::safetensors_name(c.path) == c.name);
    header += (header.size() > 1 ? ",\"" : "\"") + c.name + R"(":{"dtype":"F32","shape":[1],"data_offsets":[)" +
              std::to_string(at) + "," + std::to_string(at + 4) + "]}";
    at += 4;
  }
  header += "}";
  write_bytes(dir.file("f.safetensors"), st_file(header, std::string(at, '\0')));
  const State s = interop::load_safetensors(dir.file("f.safetensors"));
  REQUIRE(s.size() == std::size(cases));
  for (const Case& c : cases) {
    CAPTURE(c.name);
    REQUIRE(s.contains(c.path));
    CHECK(s.at(c.path).kind() == nnx::Param::static_kind());
  }
}

TEST_CASE("safetensors: keys may come in any order and with JSON whitespace, offsets decide the layout") {
  TempDir dir("nnx-st");
  const std::string header =
      " {\n \"b\" : {\"data_offsets\": [4, 12], \"shape\": [2], \"dtype\": \"I32\"},\n"
      " \"__metadata__\": {\"k\": \"v\\u00e9\\ud83d\\ude00\"},\t\"a\": {\"dtype\": \"F32\", \"shape\": [], \"data_offsets\": [0, 4]} }   ";
  std::string data(12, '\0');
  const float one = 1.f;
  const std::int32_t b[] = {7, -8};
  std::memcpy(data.data(), &one, 4);
  std::memcpy(data.data() + 4, b, 8);
  write_bytes(dir.file("w.safetensors"), st_file(header, data));
  const interop::SafetensorsFile f = interop::read_safetensors(dir.file("w.safetensors"));
  REQUIRE(f.tensors.size() == 2);
  CHECK(f.tensors[0].name == "a");
  CHECK(f.tensors[0].value.item<float>() == 1.f);
  CHECK(f.tensors[1].value.data<std::int32_t>()[1] == -8);
  CHECK(f.metadata.at("k") == "v\xc3\xa9\xf0\x9f\x98\x80");
}

TEST_CASE("safetensors: saving refuses what cannot round-trip, naming it") {
  TempDir dir("nnx-st");
  struct Case {
    const char* what;
    State state;
    interop::SafetensorsOptions options;
    std::string message;
  };
  State collide, collide_index, abstract, fine;
  collide.set(Path{"a.b", "c"}, nnx::Param(Array::ones({1}, DType::float32)));
  collide.set(Path{"a", "b.c"}, nnx::Param(Array::ones({1}, DType::float32)));
  collide_index.set(Path{"l", 0}, nnx::Param(Array::ones({1}, DType::float32)));
  collide_index.set(Path{"l", "0"}, nnx::Param(Array::ones({1}, DType::float32)));
  abstract.set(Path{"w"}, nnx::Param(Array::abstract({2}, DType::float32)));
  fine.set(Path{"w"}, nnx::Param(Array::ones({2}, DType::float32)));
  State bad_utf8;
  bad_utf8.set(Path{"\xff"}, nnx::Param(Array::ones({1}, DType::float32)));
  const Case cases[] = {
      {"two paths, one name", collide, {}, "both have the safetensors name 'a.b.c'"},
      {"an integer key and a string key spelled alike", collide_index, {}, "both have the safetensors name 'l.0'"},
      {"abstract", abstract, {}, "is abstract"},
      {"a metadata key of nnx's", fine, {.metadata = {{"nnx.kind.w", "x"}}}, "keys starting with \"nnx.\""},
      {"a name that is not UTF-8", bad_utf8, {}, "is not UTF-8"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.what);
    const auto e = expect_checkpoint_error([&] { interop::save_safetensors(dir.file("x.safetensors"), c.state, c.options); });
    CHECK(e.code() == ckpt::ErrorCode::usage);
    CHECK_CONTAINS(e.what(), c.message);
  }
  CHECK(entries(dir).empty());  // nothing written, no temporary file left
}

TEST_CASE("safetensors: saving replaces an existing file whole") {
  TempDir dir("nnx-st");
  const std::string path = dir.file("r.safetensors");
  write_bytes(path, std::string(10000, 'x'));
  State s;
  s.set(Path{"w"}, nnx::Param(Array::full({3}, DType::float64, 2.5)));
  interop::save_safetensors(path, s);
  CHECK(nnx::state_equal(interop::load_safetensors(path), s));
  CHECK(entries(dir) == std::set<std::string>{"r.safetensors"});
}
