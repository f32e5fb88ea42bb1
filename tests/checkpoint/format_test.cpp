// Tests of the array file (nnx/checkpoint/format.hpp): write_array_file / ArrayFileReader round trips.
#include <doctest/doctest.h>

#include <boost/filesystem.hpp>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "fixtures.hpp"

using namespace checkpoint_test;

namespace format_test {
// A user-defined kind: checkpoints store its name and give it back.
NNX_VARIABLE_KIND(CkptLoraParam, nnx::Param, "CkptLoraParam");
}  // namespace format_test

namespace {

// Writes `state`, reads it back whole, and checks the file is sound.
State round_trip(const TempDir& dir, const State& state, const std::string& name = "state.nnxa") {
  const std::string file = dir.file(name);
  const std::uint64_t written = ckpt::write_array_file(file, state);
  CHECK(written == boost::filesystem::file_size(file));
  ckpt::ArrayFileReader reader(file);
  CHECK(reader.file_size() == written);
  CHECK(reader.path() == file);
  CHECK(reader.verify().empty());
  return reader.read_all();
}

template <class T> std::vector<T> interesting_values() {
  using L = std::numeric_limits<T>;
  if constexpr (std::is_floating_point_v<T>)
    return {T(0), T(-0.0), T(1.5), T(-3.25), L::max(), L::lowest(), L::min(), L::denorm_min(), L::infinity(),
            -L::infinity(), L::quiet_NaN(), L::epsilon()};
  else
    return {T(0), T(1), T(42), L::max(), L::min(), T(L::max() / 3), T(7), T(100), T(L::min() + 1), T(255), T(256), T(65537)};
}

}  // namespace

TEST_CASE_TEMPLATE("every dtype round-trips bitwise through an array file", T, float, double, std::int32_t, std::int64_t,
                   std::uint32_t) {
  TempDir dir("nnx-format");
  const std::vector<T> values = interesting_values<T>();
  REQUIRE(values.size() == 12);
  State s;
  s.set(Path{"m", "flat"}, nnx::Param(Array::from_values<T>({12}, std::span<const T>(values))));
  s.set(Path{"m", "matrix"}, nnx::Param(Array::from_values<T>({3, 4}, std::span<const T>(values))));
  s.set(Path{"m", "cube"}, nnx::Param(Array::from_values<T>({2, 3, 2}, std::span<const T>(values))));
  s.set(Path{"m", "scalar"}, nnx::Param(Array::scalar<T>(values[3])));
  s.set(Path{"m", "none"}, nnx::Param(Array::zeros({0}, nnx::dtype_of<T>())));

  const State back = round_trip(dir, s);
  CHECK(nnx::state_equal(back, s));
  for (const auto& [path, var] : back) {
    CAPTURE(path.str());
    CHECK(var.value.dtype() == nnx::dtype_of<T>());
    CHECK(var.value.shape() == s.at(path).value.shape());
  }
  // The index describes each array exactly; data lies back to back after the 17-byte header.
  ckpt::ArrayFileReader reader(dir.file("state.nnxa"));
  CHECK(reader.index().format_version == ckpt::kArrayFormatVersion);
  REQUIRE(reader.index().entries.size() == 5);
  std::uint64_t offset = 17;
  for (const auto& e : reader.index().entries) {
    CAPTURE(e.path.str());
    CHECK(e.dtype == nnx::dtype_of<T>());
    CHECK(e.offset == offset);
    CHECK(e.nbytes == s.at(e.path).value.nbytes());
    CHECK(e.kind == "Param");
    offset += e.nbytes;
    CHECK(nnx::array_equal(reader.read(e), s.at(e.path).value));
  }
}

TEST_CASE("0-d and zero-size arrays keep their shapes") {
  TempDir dir("nnx-format");
  State s;
  s.set(Path{"scalar32"}, nnx::Param(Array::scalar<float>(2.5f)));
  s.set(Path{"scalar64"}, nnx::BatchStat(Array::scalar<std::int64_t>(-9)));
  s.set(Path{"empty", "a"}, nnx::Param(Array::zeros({0}, DType::float32)));
  s.set(Path{"empty", "b"}, nnx::Param(Array::zeros({3, 0, 2}, DType::float64)));
  s.set(Path{"empty", "c"}, nnx::Param(Array::zeros({0, 5}, DType::uint32)));
  const State back = round_trip(dir, s);
  CHECK(nnx::state_equal(back, s));
  CHECK(back.at("scalar32").value.ndim() == 0);
  CHECK(back.at("scalar32").value.item<float>() == 2.5f);
  CHECK(back.at("scalar64").value.item<std::int64_t>() == -9);
  CHECK(back.at("empty/b").value.shape() == nnx::Shape{3, 0, 2});
  CHECK(back.at("empty/b").value.numel() == 0);
  CHECK(back.at("empty/c").value.shape() == nnx::Shape{0, 5});
  CHECK(back.at("empty/c").value.dtype() == DType::uint32);
}

TEST_CASE("an empty State makes a valid file of header, empty index and footer") {
  TempDir dir("nnx-format");
  const State back = round_trip(dir, State{});
  CHECK(back.empty());
  ckpt::ArrayFileReader reader(dir.file("state.nnxa"));
  CHECK(reader.index().entries.empty());
  CHECK(reader.file_size() == 17 + 9 + 32);  // header, index (flag + count), footer
}

TEST_CASE("integer path keys stay integers and keep numeric order") {
  TempDir dir("nnx-format");
  State s;
  s.set(Path{"layers", 0, "kernel"}, nnx::Param(Array::full({2}, DType::float32, 0.0)));
  s.set(Path{"layers", 2, "kernel"}, nnx::Param(Array::full({2}, DType::float32, 2.0)));
  s.set(Path{"layers", 10, "kernel"}, nnx::Param(Array::full({2}, DType::float32, 10.0)));
  s.set(Path{"names", "0"}, nnx::Param(Array::full({1}, DType::float32, -1.0)));  // a string that looks like a number
  s.set(Path{"neg", std::int64_t{-3}}, nnx::Param(Array::full({1}, DType::float32, -3.0)));
  s.set(Path{"big", std::int64_t{1} << 40}, nnx::Param(Array::full({1}, DType::float32, 4.0)));

  const State back = round_trip(dir, s);
  CHECK(nnx::state_equal(back, s));
  CHECK(back.contains(Path{"layers", 10, "kernel"}));
  CHECK_FALSE(back.contains(Path{"layers", "10", "kernel"}));
  CHECK(back.contains(Path{"names", "0"}));
  CHECK_FALSE(back.contains(Path{"names", 0}));
  CHECK(back.contains(Path{"neg", std::int64_t{-3}}));
  CHECK(back.contains(Path{"big", std::int64_t{1} << 40}));

  ckpt::ArrayFileReader reader(dir.file("state.nnxa"));
  std::vector<std::string> order;
  for (const auto& e : reader.index().entries) {
    order.push_back(e.path.str());
    if (e.path[0].name() == "layers") CHECK(e.path[1].is_index());
    if (e.path[0].name() == "names") CHECK(e.path[1].is_name());
  }
  CHECK(order == std::vector<std::string>{"big/1099511627776", "layers/0/kernel", "layers/2/kernel", "layers/10/kernel",
                                          "names/0", "neg/-3"});
}

TEST_CASE("kinds and metadata survive, custom kinds by name") {
  TempDir dir("nnx-format");
  State s;
  s.set(Path{"w"}, nnx::Param(Array::ones({2, 2}, DType::float32), {{"sharding", "model"}, {"note", ""}}));
  s.set(Path{"bn", "mean"}, nnx::BatchStat(Array::zeros({2}, DType::float32)));
  s.set(Path{"rngs", "key"}, nnx::RngKey(Array::scalar<std::uint32_t>(7u), {{"tag", "dropout"}}));
  s.set(Path{"rngs", "count"}, nnx::RngCount(Array::scalar<std::uint32_t>(3u), {{"tag", "dropout"}}));
  s.set(Path{"opt", "mu"}, nnx::OptState(Array::zeros({2}, DType::float64)));
  s.set(Path{"lora", "a"}, format_test::CkptLoraParam(Array::full({2, 1}, DType::float32, 0.5),
                                                      {{"rank", "1"}, {"unicode", "\xc3\xa9t\xc3\xa9 / = \"q\""}}));
  s.set(Path{"plain"}, nnx::Variable(nnx::Kind::root(), Array::scalar<double>(1.0)));

  const State back = round_trip(dir, s);
  CHECK(nnx::state_equal(back, s));  // includes kinds and metadata
  CHECK(back.at("w").kind().name() == "Param");
  CHECK(back.at("w").meta("sharding") == "model");
  CHECK(back.at("w").metadata.count("note") == 1);
  CHECK(back.at("rngs/key").kind() == nnx::RngKey::static_kind());
  CHECK(back.at("rngs/key").meta("tag") == "dropout");
  CHECK(back.at("opt/mu").kind() == nnx::OptState::static_kind());
  CHECK(back.at("plain").kind() == nnx::Kind::root());
  const nnx::Variable& lora = back.at("lora/a");
  CHECK(lora.kind() == format_test::CkptLoraParam::static_kind());
  CHECK(lora.kind().name() == "CkptLoraParam");
  CHECK(lora.kind().is_a(nnx::Param::static_kind()));  // filters for Param still match it
  CHECK(lora.meta("unicode") == "\xc3\xa9t\xc3\xa9 / = \"q\"");
  CHECK(back.filter(nnx::Param{}).size() == 2);

  ckpt::ArrayFileReader reader(dir.file("state.nnxa"));
  bool found = false;
  for (const auto& e : reader.index().entries)
    if (e.path == Path{"lora", "a"}) {
      found = true;
      CHECK(e.kind == "CkptLoraParam");
      CHECK(e.metadata.at("rank") == "1");
    }
  CHECK(found);
}

TEST_CASE("a large array is written and read back in chunks") {
  TempDir dir("nnx-format");
  const std::int64_t n = (3 << 20) / 4 + 123;  // 3 MiB and a bit: several of the reader's chunks and a remainder
  Array big = Array::empty({n}, DType::float32);
  float* p = big.mutable_data<float>();
  for (std::int64_t i = 0; i < n; ++i) p[i] = static_cast<float>(i % 1000) * 0.25f - 7.f;
  State s;
  s.set(Path{"big"}, nnx::Param(big));
  s.set(Path{"small"}, nnx::Param(Array::full({3}, DType::int32, 5)));
  CHECK(nnx::state_equal(round_trip(dir, s), s));
}

TEST_CASE("read_into checks its destination and fills it") {
  TempDir dir("nnx-format");
  State s;
  s.set(Path{"x"}, nnx::Param(Array::from_values<double>({2, 2}, {1.0, 2.0, 3.0, 4.0})));
  ckpt::write_array_file(dir.file("a.nnxa"), s);
  ckpt::ArrayFileReader reader(dir.file("a.nnxa"));
  const ckpt::ArrayEntry& e = reader.index().entries.at(0);

  Array dst = Array::zeros({2, 2}, DType::float64);
  reader.read_into(e, dst);
  CHECK(nnx::array_equal(dst, s.at("x").value));

  struct Bad {
    const char* name;
    Array dst;
  };
  for (const Bad& bad : {Bad{"other dtype", Array::zeros({2, 2}, DType::float32)},
                         Bad{"other shape", Array::zeros({4}, DType::float64)},
                         Bad{"abstract", Array::abstract({2, 2}, DType::float64)}}) {
    CAPTURE(std::string(bad.name));
    Array d = bad.dst;
    try {
      reader.read_into(e, d);
      FAIL("read_into accepted a wrong destination");
    } catch (const ckpt::CheckpointError& err) {
      CHECK(err.code() == ckpt::ErrorCode::usage);
      CHECK_CONTAINS(err.what(), "x");
      CHECK_CONTAINS(err.what(), "float64[2,2]");
    }
  }
}

TEST_CASE("an abstract State is refused, naming the path, and leaves no file behind") {
  TempDir dir("nnx-format");
  State s;
  s.set(Path{"enc", "w"}, nnx::Param(Array::abstract({1000, 1000}, DType::float32)));
  s.set(Path{"a"}, nnx::Param(Array::ones({2}, DType::float32)));
  const std::string file = dir.file("abstract.nnxa");
  try {
    ckpt::write_array_file(file, s);
    FAIL("an abstract State was saved");
  } catch (const ckpt::CheckpointError& e) {
    CHECK(e.code() == ckpt::ErrorCode::usage);
    CHECK_CONTAINS(e.what(), "enc/w");
    CHECK_CONTAINS(e.what(), "abstract");
    CHECK_CONTAINS(e.what(), "float32[1000,1000]");
  }
  CHECK_FALSE(boost::filesystem::exists(file));
  // The same path can be written once the State is concrete.
  s.at("enc/w").value = Array::zeros({2, 2}, DType::float32);
  ckpt::write_array_file(file, s);
  CHECK(nnx::state_equal(ckpt::ArrayFileReader(file).read_all(), s));
}

TEST_CASE("write_array_file never overwrites, opening a missing file is not_found") {
  TempDir dir("nnx-format");
  State s;
  s.set(Path{"a"}, nnx::Param(Array::ones({2}, DType::float32)));
  const std::string file = dir.file("once.nnxa");
  ckpt::write_array_file(file, s);
  try {
    ckpt::write_array_file(file, s);
    FAIL("an existing file was overwritten");
  } catch (const ckpt::CheckpointError& e) {
    CHECK(e.code() == ckpt::ErrorCode::io);
    CHECK_CONTAINS(e.what(), file.c_str());
  }
  CHECK(nnx::state_equal(ckpt::ArrayFileReader(file).read_all(), s));

  const std::string missing = dir.file("missing.nnxa");
  try {
    ckpt::ArrayFileReader reader(missing);
    FAIL("a missing file was opened");
  } catch (const ckpt::CheckpointError& e) {
    CHECK(e.code() == ckpt::ErrorCode::not_found);
    CHECK_CONTAINS(e.what(), missing.c_str());
  }
}

TEST_CASE("checksum is XXH3-64 and sensitive to every byte") {
  const std::string a = "nnx checkpoint";
  std::string b = a;
  b[5] ^= 1;
  CHECK(ckpt::checksum(a.data(), a.size()) == ckpt::checksum(a.data(), a.size()));
  CHECK(ckpt::checksum(a.data(), a.size()) != ckpt::checksum(b.data(), b.size()));
  CHECK(ckpt::checksum(a.data(), 0) == 0x2D06800538D394C2ULL);  // XXH3-64 of no bytes (seed 0)
}
