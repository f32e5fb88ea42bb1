// Tests of nnx/state.hpp (and the Difference / StructureError formatting of nnx/error.hpp).
#include <doctest/doctest.h>

#include <algorithm>
#include <initializer_list>
#include <sstream>
#include <string>
#include <vector>

#include <nnx/models.hpp>

using nnx::Array;
using nnx::DType;
using nnx::Path;
using nnx::State;

namespace {
// layers/{0,2,10}/kernel, layers/0/bias (Param) and bn/{mean,var} (BatchStat).
State hand_state() {
  State s;
  s.set(Path{"layers", 10, "kernel"}, nnx::Param(Array::full({3, 1}, DType::float32, 10.0)));
  s.set(Path{"layers", 0, "kernel"}, nnx::Param(Array::full({4, 2}, DType::float32, 1.0)));
  s.set(Path{"layers", 0, "bias"}, nnx::Param(Array::zeros({2}, DType::float32)));
  s.set(Path{"layers", 2, "kernel"}, nnx::Param(Array::full({2, 3}, DType::float32, 2.0)));
  s.set(Path{"bn", "mean"}, nnx::BatchStat(Array::zeros({3}, DType::float64)));
  s.set(Path{"bn", "var"}, nnx::BatchStat(Array::ones({3}, DType::float64)));
  return s;
}

std::vector<std::string> path_strings(const State& s) {
  std::vector<std::string> out;
  for (const auto& [path, v] : s) out.push_back(path.str());
  return out;
}

nnx::models::MLP make_mlp(std::vector<std::int64_t> hidden, bool extras = true) {
  nnx::Rngs rngs({{"params", 0}, {"dropout", 1}});
  return nnx::models::MLP({.in = 4, .hidden = std::move(hidden), .out = 2, .dropout = extras ? 0.1 : 0.0,
                           .batch_norm = extras},
                          rngs);
}

template <class T> std::string str(const T& x) {
  std::ostringstream os;
  os << x;
  return os.str();
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// One check per part: each must occur in `text`.
void check_contains_all(const std::string& text, std::initializer_list<const char*> parts) {
  for (const char* part : parts) CHECK_MESSAGE(contains(text, part), part);
}
}  // namespace

TEST_CASE("a State iterates in sorted path order") {
  State s = hand_state();
  CHECK(s.size() == 6);
  CHECK(path_strings(s) == std::vector<std::string>{"bn/mean", "bn/var", "layers/0/bias", "layers/0/kernel",
                                                    "layers/2/kernel", "layers/10/kernel"});
  CHECK(s.contains(Path{"layers", 10, "kernel"}));
  CHECK_FALSE(s.contains(Path{"layers", "10", "kernel"}));
  CHECK(s.at("layers/10/kernel").value.shape() == nnx::Shape{3, 1});  // "10" parses as an integer
  CHECK(s.at(Path{"bn", "mean"}).kind() == nnx::BatchStat::static_kind());
  s.at("layers/0/bias").metadata["note"] = "edited";
  CHECK(s.at("layers/0/bias").meta("note") == "edited");
  CHECK(s.erase(Path{"bn", "var"}));
  CHECK_FALSE(s.erase(Path{"bn", "var"}));
  CHECK(s.size() == 5);

  nnx::models::MLP model = make_mlp({32, 32});
  State m = nnx::state(model);
  CHECK(m.size() == 16);  // 3 Linear x 2, 2 BatchNorm x 4, dropout key + count
  std::vector<Path> paths;
  for (const auto& [path, v] : m) paths.push_back(path);
  CHECK(std::is_sorted(paths.begin(), paths.end()));
  CHECK(paths.front().str() == "dropout/rngs/count");
  CHECK(paths.back().str() == "norms/1/var");
  CHECK(m.at("layers/1/kernel").value.shape() == nnx::Shape{32, 32});
  CHECK(m.at("layers/1/kernel").value.same_buffer(model.layers[1].kernel.value));  // no copy
}

TEST_CASE("at() of a missing path names it and what exists nearby") {
  State s = hand_state();
  try {
    (void)s.at("layers/0/kernal");
    FAIL("missing path found");
  } catch (const nnx::Error& e) {
    std::string msg = e.what();
    check_contains_all(msg, {"'layers/0/kernal'", "'layers/0'", "bias, kernel"});
  }
  CHECK_THROWS_WITH_AS((void)s.at("layers/3/kernel"), doctest::Contains("0, 2, 10"), nnx::Error);
  CHECK_THROWS_WITH_AS((void)s.at("layerz/0"), doctest::Contains("bn, layers"), nnx::Error);
  CHECK_THROWS_WITH_AS((void)s.at(Path{}), doctest::Contains("under '<root>' it has: bn, layers"), nnx::Error);
  const State empty;
  CHECK_THROWS_WITH_AS((void)empty.at(Path{"x"}), doctest::Contains("'x'"), nnx::Error);

  nnx::models::MLP model = make_mlp({32});
  State m = nnx::state(model);
  CHECK_THROWS_WITH_AS((void)m.at("norms/0/varience"), doctest::Contains("bias, mean, scale, var"), nnx::Error);
}

TEST_CASE("subtree and children") {
  State s = hand_state();
  State layer0 = s.subtree(Path{"layers", 0});
  CHECK(path_strings(layer0) == std::vector<std::string>{"bias", "kernel"});
  CHECK(layer0.at("kernel").value.same_buffer(s.at("layers/0/kernel").value));
  CHECK(s.subtree(Path{"layers"}).size() == 4);
  CHECK(s.subtree(Path{"nothing"}).empty());
  CHECK(s.subtree(Path{}).size() == s.size());

  CHECK(s.children() == std::vector<nnx::PathKey>{"bn", "layers"});
  std::vector<nnx::PathKey> layers = s.children(Path{"layers"});
  CHECK(layers == std::vector<nnx::PathKey>{0, 2, 10});
  CHECK(layers[2].is_index());
  CHECK(s.children(Path{"layers", 0, "kernel"}).empty());  // a leaf has no children
}

TEST_CASE("filter and split") {
  nnx::models::MLP model = make_mlp({32, 32});
  State m = nnx::state(model);
  CHECK(m.filter(nnx::Param{}).size() == 10);
  CHECK(m.filter(nnx::BatchStat{}).size() == 4);
  CHECK(m.filter(nnx::RngState{}).size() == 2);

  // Each variable goes to the first filter that matches.
  auto parts = m.split({nnx::PathContains("norms"), nnx::Param{}, nnx::Everything{}});
  REQUIRE(parts.size() == 3);
  CHECK(parts[0].size() == 8);
  CHECK(parts[1].size() == 6);
  CHECK(parts[2].size() == 2);
  CHECK(nnx::state_equal(State::merge(parts), m));

  auto exhaustive = m.split({nnx::Param{}, nnx::BatchStat{}, nnx::RngState{}});
  CHECK(exhaustive[2].size() == 2);

  // Leftovers: every unmatched path is listed, with the remedy.
  try {
    (void)m.split({nnx::Param{}});
    FAIL("non-exhaustive split succeeded");
  } catch (const nnx::StructureError& e) {
    std::string msg = e.what();
    CHECK(e.differences().size() == 6);
    check_contains_all(msg, {"norms/0/mean", "norms/0/var", "norms/1/mean", "norms/1/var", "dropout/rngs/key",
                             "dropout/rngs/count", "nnx::Everything{}", "BatchStat float32[32]"});
    CHECK_FALSE(contains(msg, "layers/0/kernel"));
    for (const auto& d : e.differences()) CHECK(d.what == nnx::Difference::What::unexpected);
  }

  CHECK_THROWS_WITH_AS((void)m.split({nnx::Everything{}, nnx::Param{}}), doctest::Contains("must be the last filter"),
                       nnx::Error);
  CHECK_THROWS_AS((void)m.split({}), nnx::Error);
}

TEST_CASE("merge, and difference") {
  State s = hand_state();
  State params = s.filter(nnx::Param{});
  State stats = s.filter(nnx::BatchStat{});
  State merged = State::merge({stats, params});
  CHECK(nnx::state_equal(merged, s));
  CHECK(merged.at("bn/mean").value.same_buffer(s.at("bn/mean").value));
  CHECK(State::merge({}).empty());

  try {
    (void)State::merge({s, params, State()});
    FAIL("duplicate paths merged");
  } catch (const nnx::StructureError& e) {
    std::string msg = e.what();
    CHECK(e.differences().size() == 4);
    check_contains_all(msg, {"layers/0/bias", "layers/0/kernel", "layers/2/kernel", "layers/10/kernel"});
    CHECK_FALSE(contains(msg, "bn/mean"));
  }

  State d = s.difference(params);
  CHECK(path_strings(d) == std::vector<std::string>{"bn/mean", "bn/var"});
  CHECK(s.difference(State()).size() == s.size());
  CHECK(s.difference(s).empty());
}

TEST_CASE("pure dict round trips keep integer keys") {
  nnx::models::MLP model = make_mlp({32, 32});
  State m = nnx::state(model);
  nnx::PureDict d = m.to_pure_dict();
  CHECK(d.at("layers").contains(1));
  CHECK_FALSE(d.at("layers").contains("1"));

  State back = State::from_pure_dict(d);
  CHECK(back.size() == m.size());
  CHECK(nnx::state_equal(back, m));  // kinds and metadata as they were: one tree, no conversion
  CHECK(back.at("dropout/rngs/key").kind() == nnx::RngKey::static_kind());
  CHECK(back.at("layers/1/kernel").value.same_buffer(m.at("layers/1/kernel").value));
  bool saw_index = false;
  for (const auto& [path, v] : back)
    if (path[0] == nnx::PathKey("layers")) {
      CHECK(path[1].is_index());
      saw_index = true;
    }
  CHECK(saw_index);
  CHECK(State::from_pure_dict(d, nnx::BatchStat::static_kind()).at("layers/0/bias").kind().name() == "BatchStat");

  // replace_by_pure_dict: new values, same kinds and metadata.
  State target = m;
  nnx::PureDict zeros;
  for (const auto& [path, a] : d.flatten()) zeros.set(path, Array::zeros(a.shape(), a.dtype()));
  CHECK(State::from_pure_dict(zeros).at("dropout/rngs/key").kind() == nnx::Param::static_kind());  // bare Arrays
  target.replace_by_pure_dict(zeros);
  CHECK(target.at("layers/0/kernel").kind() == nnx::Param::static_kind());
  CHECK(target.at("dropout/rngs/key").meta("tag") == "dropout");
  CHECK(target.at("layers/0/kernel").value.same_buffer(zeros.at("layers").at(0).at("kernel").array()));
  CHECK(nnx::max_abs_difference(target.at("layers/0/kernel").value, Array::zeros({4, 32}, DType::float32)) == 0.0);
  for (const auto& [path, v] : target) CHECK(path[1].is_index() == (path[0] != nnx::PathKey("dropout")));
  target.replace_by_pure_dict(d);
  CHECK(nnx::state_equal(target, m));
}

TEST_CASE("replace_by_pure_dict reports every difference at once") {
  State s = hand_state();
  nnx::PureDict d = s.to_pure_dict();
  d["bn"].erase("var");                                                   // missing
  d.set(Path{"layers", 3, "kernel"}, Array::zeros({1}, DType::float32));  // unexpected
  d.set(Path{"layers", 2, "kernel"}, Array::zeros({3, 2}, DType::float32));  // shape
  d.set(Path{"layers", 0, "bias"}, Array::zeros({2}, DType::float64));       // dtype
  State before = s;
  try {
    s.replace_by_pure_dict(d);
    FAIL("mismatching dict accepted");
  } catch (const nnx::StructureError& e) {
    using W = nnx::Difference::What;
    const auto& diffs = e.differences();
    REQUIRE(diffs.size() == 4);
    auto find = [&](const char* p) {
      return std::find_if(diffs.begin(), diffs.end(), [&](const nnx::Difference& x) { return x.path.str() == p; });
    };
    REQUIRE(find("bn/var") != diffs.end());
    CHECK(find("bn/var")->what == W::missing);
    REQUIRE(find("layers/3/kernel") != diffs.end());
    CHECK(find("layers/3/kernel")->what == W::unexpected);
    CHECK(find("layers/3/kernel")->path[1].is_index());
    REQUIRE(find("layers/2/kernel") != diffs.end());
    CHECK(find("layers/2/kernel")->what == W::shape);
    REQUIRE(find("layers/0/bias") != diffs.end());
    CHECK(find("layers/0/bias")->what == W::dtype);
    std::string msg = e.what();
    check_contains_all(msg, {"replace_by_pure_dict: 4 differences", "bn/var: missing", "layers/3/kernel: unexpected",
                             "layers/2/kernel: expected float32[2,3], got float32[3,2]",
                             "layers/0/bias: expected float32[2], got float64[2]", "cast_dtypes"});
  }
  CHECK(nnx::state_equal(s, before));  // nothing was replaced

  // cast_dtypes converts to the State's dtypes; shapes must still match.
  nnx::PureDict wide;
  for (const auto& [path, v] : s) wide.set(path, Array::full(v.value.shape(), DType::int64, 5.0));
  s.replace_by_pure_dict(wide, /*cast_dtypes=*/true);
  CHECK(s.at("layers/0/kernel").value.dtype() == DType::float32);
  CHECK(s.at("layers/0/kernel").value.data<float>()[3] == 5.f);
  CHECK(s.at("bn/mean").value.dtype() == DType::float64);
  CHECK(s.at("bn/mean").value.data<double>()[0] == 5.0);
  wide.set(Path{"bn", "var"}, Array::zeros({4}, DType::float64));
  CHECK_THROWS_AS(s.replace_by_pure_dict(wide, true), nnx::StructureError);
}

TEST_CASE("compare_structure and Difference::str") {
  using W = nnx::Difference::What;
  nnx::models::MLP a = make_mlp({32, 32}, false), b = make_mlp({32, 16}, false);
  auto diffs = nnx::compare_structure(nnx::state(a), nnx::state(b));
  REQUIRE(diffs.size() == 3);
  CHECK(diffs[0].str() == "layers/1/bias: expected float32[32], got float32[16]");
  CHECK(diffs[1].str() == "layers/1/kernel: expected float32[32,32], got float32[32,16]");
  CHECK(diffs[2].str() == "layers/2/kernel: expected float32[32,2], got float32[16,2]");
  for (const auto& d : diffs) CHECK(d.what == W::shape);
  CHECK(nnx::compare_structure(nnx::state(a), nnx::state(a)).empty());

  State expected, found;
  expected.set(Path{"gone"}, nnx::Param(Array::zeros({4, 2}, DType::float32)));
  found.set(Path{"extra"}, nnx::BatchStat(Array::zeros({2}, DType::float32)));
  expected.set(Path{"k"}, nnx::Param(Array::zeros({2}, DType::float32)));
  found.set(Path{"k"}, nnx::BatchStat(Array::zeros({2}, DType::float32)));
  expected.set(Path{"t", 0}, nnx::Param(Array::zeros({2}, DType::float32)));
  found.set(Path{"t", 0}, nnx::Param(Array::zeros({2}, DType::float64)));
  diffs = nnx::compare_structure(expected, found);
  REQUIRE(diffs.size() == 4);
  CHECK(diffs[0].what == W::unexpected);
  CHECK(diffs[0].str() == "extra: unexpected (found BatchStat float32[2], not expected)");
  CHECK(diffs[1].what == W::missing);
  CHECK(diffs[1].str() == "gone: missing (expected Param float32[4,2], not found)");
  CHECK(diffs[2].what == W::kind);
  CHECK(diffs[2].str() == "k: expected kind Param, got BatchStat");
  CHECK(diffs[3].what == W::dtype);
  CHECK(diffs[3].str() == "t/0: expected float32[2], got float64[2]");

  nnx::CompareOptions lax;
  lax.kinds = lax.dtypes = lax.missing = lax.unexpected = false;
  CHECK(nnx::compare_structure(expected, found, lax).empty());

  nnx::Difference abs{Path{"w"}, W::abstract, "a concrete array", "float32[2] (abstract)"};
  CHECK(abs.str() == "w: expected a concrete array, got float32[2] (abstract)");
  CHECK(nnx::Difference{Path{}, W::missing, "Param float32[]", ""}.str() ==
        "<root>: missing (expected Param float32[], not found)");
  CHECK(nnx::difference_name(W::kind) == "kind");
  CHECK(nnx::difference_name(W::abstract) == "abstract");

  nnx::StructureError err("merge", diffs, "do something");
  CHECK(err.context() == "merge");
  CHECK(err.differences().size() == 4);
  const std::string msg = err.what();
  CHECK(msg.rfind("merge: 4 differences\n  missing (1):\n    gone: missing", 0) == 0);
  CHECK(contains(msg, "\n  fix: do something"));
  CHECK(msg.find("missing (1)") < msg.find("unexpected (1)"));
  CHECK(msg.find("kind (1)") < msg.find("dtype (1)"));
}

TEST_CASE("state_equal, sizes and as_abstract") {
  State s = hand_state();
  State t = hand_state();
  CHECK(nnx::state_equal(s, t));
  t.at("layers/0/bias").metadata["sharding"] = "x";
  CHECK_FALSE(nnx::state_equal(s, t));
  t = hand_state();
  t.at("bn/mean").value.mutable_data<double>()[1] = 0.5;
  CHECK_FALSE(nnx::state_equal(s, t));
  t = hand_state();
  t.set(Path{"bn", "mean"}, nnx::Param(Array::zeros({3}, DType::float64)));
  CHECK_FALSE(nnx::state_equal(s, t));
  t = hand_state();
  t.erase(Path{"bn", "var"});
  t.set(Path{"bn", "var2"}, nnx::BatchStat(Array::ones({3}, DType::float64)));
  CHECK_FALSE(nnx::state_equal(s, t));

  CHECK(s.num_elements() == 3 + 3 + 2 + 8 + 6 + 3);
  CHECK(s.num_bytes() == 6 * 8 + 19 * 4);
  CHECK_FALSE(s.has_abstract());

  State a = s.as_abstract();
  CHECK(a.has_abstract());
  for (const auto& [p, v] : a) CHECK(v.value.is_abstract());
  CHECK(a.num_bytes() == s.num_bytes());
  CHECK(a.num_elements() == s.num_elements());
  CHECK(nnx::compare_structure(s, a).empty());
  CHECK_FALSE(nnx::state_equal(s, a));
  CHECK_FALSE(s.at("bn/mean").value.is_abstract());  // the original is untouched
}

TEST_CASE("printing a State") {
  State s = hand_state();
  s.at("bn/mean").metadata["tag"] = "stats";
  const std::string out = str(s);
  CHECK(out.rfind("State: 6 variables, 25 elements, 124 B\n", 0) == 0);
  check_contains_all(out, {"BatchStat     2 variables    6 elements            48 B",
                           "Param         4 variables    19 elements           76 B"});
  check_contains_all(out, {"bn/", "layers/", "0/", "2/", "10/", "kernel", "bias", "mean", "float32[4,2]", "float64[3]",
                           "float32[3,1]", "{tag=stats}"});
  CHECK(out.find("  2/") < out.find("  10/"));  // integer keys in numeric order

  nnx::models::MLP model = make_mlp({32, 32});
  const std::string m = str(nnx::state(model));
  check_contains_all(m, {"State: 16 variables", "RngKey", "RngCount", "uint32[2]", "{tag=dropout}", "float32[32,32]",
                         "1,024",  // 32*32 elements, with a thousands separator
                         "4.0 KB"});

  const std::string abs = str(s.as_abstract());
  check_contains_all(abs, {"(abstract: no memory held)", "(abstract)"});
  CHECK(str(State()).rfind("State: 0 variables, 0 elements, 0 B", 0) == 0);
}
