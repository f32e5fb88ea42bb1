// Tests of nnx/pure_dict.hpp: nested maps of Arrays with typed keys.
#include <doctest/doctest.h>

#include <sstream>
#include <string>

#include <nnx/nnx.hpp>

using nnx::Array;
using nnx::DType;
using nnx::Path;
using nnx::PureDict;

namespace {
PureDict sample() {
  PureDict d;
  d.set(Path{"layers", 0, "kernel"}, Array::zeros({4, 2}, DType::float32));
  d.set(Path{"layers", 0, "bias"}, Array::zeros({2}, DType::float32));
  d.set(Path{"layers", 10, "kernel"}, Array::zeros({2, 2}, DType::float64));
  d.set(Path{"layers", 2, "kernel"}, Array::zeros({2, 3}, DType::float32));
  d.set(Path{"head"}, Array::ones({3}, DType::int32));
  return d;
}
}  // namespace

TEST_CASE("operator[], at, contains with integer keys") {
  PureDict d = sample();
  CHECK_FALSE(d.is_leaf());
  CHECK(d.size() == 2);
  CHECK(d.contains("layers"));
  CHECK(d.contains("head"));
  CHECK(d["layers"].contains(0));
  CHECK_FALSE(d["layers"].contains("0"));  // integer keys stay integers
  CHECK(d["layers"][0]["kernel"].is_leaf());
  CHECK(d["layers"][0]["kernel"].array().shape_dtype().str() == "float32[4,2]");
  CHECK(d.at("layers").at(10).at("kernel").array().dtype() == DType::float64);
  const PureDict& cd = d;
  CHECK(cd.at("head").array().shape_dtype().str() == "int32[3]");

  // keys() are sorted: integers numerically, before names.
  std::vector<nnx::PathKey> keys = d.at("layers").keys();
  REQUIRE(keys.size() == 3);
  CHECK(keys[0] == nnx::PathKey(0));
  CHECK(keys[1] == nnx::PathKey(2));
  CHECK(keys[2] == nnx::PathKey(10));

  // Assigning a node of the same dict copies it (the source is read first, even when it overlaps).
  PureDict copy_source = d;
  copy_source["zzz"] = copy_source.at("head");
  CHECK(nnx::array_equal(copy_source.at("zzz").array(), d.at("head").array()));
  copy_source["layers"] = copy_source.at("layers").at(0);  // a subtree replaced by its own child
  CHECK(copy_source.at("layers").keys() == std::vector<nnx::PathKey>{"bias", "kernel"});

  // A copy of a PureDict is a value; a Ref refers into its dict, as a Python subscript does.
  PureDict value = d;
  PureDict::Ref ref = value["layers"];
  ref.erase(0);
  CHECK_FALSE(value.at("layers").contains(0));
  CHECK(d.at("layers").contains(0));
  PureDict::Ref other = value["head"];
  ref = other;  // writes through: layers becomes a copy of head; the Ref is not rebound
  CHECK(value.at("layers").is_leaf());

  // operator[] on a missing key names a node that appears once something is assigned into it.
  auto fresh = d["new"];
  CHECK_FALSE(d.contains("new"));
  fresh["w"] = Array::zeros({1}, DType::float32);
  CHECK(d.at("new").at("w").is_leaf());
  CHECK(d.size() == 3);
}

TEST_CASE("at() names the missing key and lists the existing ones") {
  PureDict d = sample();
  try {
    (void)d.at("layerz");
    FAIL("at() of a missing key succeeded");
  } catch (const nnx::Error& e) {
    std::string msg = e.what();
    CHECK(msg.find("'layerz'") != std::string::npos);
    CHECK(msg.find("head") != std::string::npos);
    CHECK(msg.find("layers") != std::string::npos);
  }
  const PureDict::ConstRef layers = d.at("layers");
  CHECK_THROWS_WITH_AS((void)layers.at(1), doctest::Contains("0, 2, 10"), nnx::Error);
  CHECK_THROWS_WITH_AS((void)layers.at(1), doctest::Contains("'1'"), nnx::Error);
  CHECK_THROWS_WITH_AS((void)PureDict().at("x"), doctest::Contains("none"), nnx::Error);
  // Leaves are not maps, maps are not leaves.
  CHECK_THROWS_AS((void)d["head"]["x"], nnx::Error);
  CHECK_THROWS_WITH_AS((void)d.at("layers").array(), doctest::Contains("0, 2, 10"), nnx::Error);
}

TEST_CASE("erase, set and find") {
  PureDict d = sample();
  CHECK(d["layers"].erase(2));
  CHECK_FALSE(d["layers"].erase(2));
  CHECK_FALSE(d["layers"].contains(2));
  CHECK_FALSE(d.find(Path{"layers", 2, "kernel"}));

  auto k = d.find(Path{"layers", 0, "kernel"});
  REQUIRE(k);
  CHECK(k->array().shape() == nnx::Shape{4, 2});
  CHECK(d.find(Path{})->size() == 2);
  CHECK_FALSE(d.find(Path{"layers", "0"}));
  CHECK_FALSE(d.find(Path{"head", "x"}));  // through a leaf

  // set replaces a leaf by a leaf, a map by a leaf, and a leaf by a map on the way.
  d.set(Path{"head"}, Array::zeros({5}, DType::float32));
  CHECK(d.at("head").array().shape() == nnx::Shape{5});
  d.set(Path{"layers", 0}, Array::zeros({1}, DType::int64));
  CHECK(d.at("layers").at(0).is_leaf());
  d.set(Path{"head", "w"}, Array::zeros({2}, DType::float32));
  CHECK_FALSE(d.at("head").is_leaf());
  CHECK(d.at("head").at("w").is_leaf());

  PureDict leaf(Array::scalar<float>(1.f));
  CHECK(leaf.is_leaf());
  CHECK(leaf.array().item<float>() == 1.f);
}

TEST_CASE("flatten lists every leaf in sorted path order") {
  PureDict d = sample();
  auto flat = d.flatten();
  REQUIRE(flat.size() == 5);
  const char* expected[] = {"head", "layers/0/bias", "layers/0/kernel", "layers/2/kernel", "layers/10/kernel"};
  for (std::size_t i = 0; i < flat.size(); ++i) {
    CAPTURE(i);
    CHECK(flat[i].first.str() == expected[i]);
  }
  CHECK(flat[1].first[1].is_index());
  CHECK(flat[4].first[1].index() == 10);
  CHECK(flat[4].second.dtype() == DType::float64);
  // The leaves share buffers with the dict.
  CHECK(flat[0].second.same_buffer(d.at("head").array()));
  CHECK(PureDict().flatten().empty());

  std::ostringstream os;
  os << d;
  CHECK(os.str().find("[10]") != std::string::npos);
  CHECK(os.str().find("kernel: float64[2,2]") != std::string::npos);
}

TEST_CASE("a PureDict is a view of a State: the same Arrays, kinds and metadata, nothing converted") {
  nnx::State s;
  s.set(Path{"bn", "mean"}, nnx::BatchStat(Array::zeros({2}, DType::float32), {{"note", "running"}}));
  s.set(Path{"layers", 0, "w"}, nnx::Param(Array::ones({2, 2}, DType::float32)));
  PureDict d(s);
  CHECK(d.at("bn").at("mean").array().same_buffer(s.at("bn/mean").value));
  CHECK(nnx::state_equal(nnx::State::from_pure_dict(d), s));

  d["bn"]["mean"] = Array::ones({2}, DType::float32);  // a replaced leaf keeps its kind and metadata
  const nnx::State edited = nnx::State::from_pure_dict(d);
  CHECK(edited.at("bn/mean").kind() == nnx::BatchStat::static_kind());
  CHECK(edited.at("bn/mean").meta("note") == "running");
  d["head"] = Array::zeros({1}, DType::float32);  // a new leaf from a bare Array is a Param
  CHECK(nnx::State::from_pure_dict(d).at("head").kind() == nnx::Param::static_kind());

  const Array* w = &d.at("layers").at(0).at("w").array();
  nnx::State moved = std::move(d).state();  // handing the tree back moves it
  CHECK(&moved.at("layers/0/w").value == w);
}
