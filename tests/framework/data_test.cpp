// Synthetic datasets, Dataset helpers, load_csv (values and error messages) and DataLoader
// (batches, epochs, its State, exact resume).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include <nnx/nnx.hpp>

#include "fixtures.hpp"

using namespace framework_test;

namespace {

using nnx::Array;
using nnx::Dataset;
using nnx::DType;

template <class T> std::vector<T> values(const Array& a) { return std::vector<T>(a.data<T>(), a.data<T>() + a.numel()); }

// Row i: features {i, -i} (float32), label i (int32); every row identifiable.
Dataset numbered(std::int64_t n) {
  std::vector<float> x;
  std::vector<std::int32_t> y;
  for (std::int64_t i = 0; i < n; ++i) {
    x.push_back(static_cast<float>(i));
    x.push_back(static_cast<float>(-i));
    y.push_back(static_cast<std::int32_t>(i));
  }
  return nnx::make_dataset(Array::from_values<float>({n, 2}, x), Array::from_values<std::int32_t>({n}, y));
}

// The labels of a batch of `numbered` rows, checking each row's features agree with its label.
std::vector<std::int32_t> rows_of(const nnx::Batch& b) {
  std::vector<std::int32_t> y = values<std::int32_t>(b.y);
  REQUIRE(b.x.dim(0) == static_cast<std::int64_t>(y.size()));
  for (std::size_t r = 0; r < y.size(); ++r) {
    CHECK(b.x.data<float>()[2 * r] == static_cast<float>(y[r]));
    CHECK(b.x.data<float>()[2 * r + 1] == static_cast<float>(-y[r]));
  }
  return y;
}

}  // namespace

TEST_CASE("synthetic datasets: shapes, dtypes, labels, determinism by key") {
  const nnx::Key k0 = nnx::key_from_seed(0), k1 = nnx::key_from_seed(1);
  struct Case {
    std::string name;
    std::function<Dataset(nnx::Key)> make;
    nnx::ShapeDtype x, y;
    std::vector<std::int64_t> per_class;  // empty for regression
  };
  const std::vector<Case> cases = {
      {"two_spirals", [](nnx::Key k) { return nnx::datasets::two_spirals(200, 0.1, k); },
       {{200, 2}, DType::float32}, {{200}, DType::int32}, {100, 100}},
      {"blobs", [](nnx::Key k) { return nnx::datasets::blobs(90, 3, 4, 0.5, k); },
       {{90, 4}, DType::float32}, {{90}, DType::int32}, {30, 30, 30}},
      {"moons", [](nnx::Key k) { return nnx::datasets::moons(101, 0.1, k); },
       {{101, 2}, DType::float32}, {{101}, DType::int32}, {51, 50}},
      {"sine", [](nnx::Key k) { return nnx::datasets::sine(64, 0.1, k); },
       {{64, 1}, DType::float32}, {{64, 1}, DType::float32}, {}},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    const Dataset d = c.make(k0);
    CHECK(d.size() == c.x.shape[0]);
    CHECK(d.features.shape_dtype() == c.x);
    CHECK(d.labels.shape_dtype() == c.y);
    if (!c.per_class.empty()) {
      std::vector<std::int64_t> count(c.per_class.size(), 0);
      for (std::int32_t label : values<std::int32_t>(d.labels)) {
        REQUIRE(label >= 0);
        REQUIRE(label < static_cast<std::int32_t>(count.size()));
        ++count[static_cast<std::size_t>(label)];
      }
      CHECK(count == c.per_class);
    }
    for (float v : values<float>(d.features)) CHECK(std::isfinite(v));
    const Dataset same = c.make(k0), other = c.make(k1);
    CHECK(nnx::array_equal(d.features, same.features));
    CHECK(nnx::array_equal(d.labels, same.labels));
    CHECK_FALSE(nnx::array_equal(d.features, other.features));
  }
}

TEST_CASE("datasets: sine without noise is sin(x) on [-pi, pi], spirals lie within radius 1 + noise") {
  const Dataset s = nnx::datasets::sine(200, 0.0, nnx::key_from_seed(3));
  for (std::int64_t i = 0; i < s.size(); ++i) {
    const double x = s.features.data<float>()[i];
    CHECK(std::fabs(x) <= static_cast<double>(static_cast<float>(3.14159265358979323846)));
    CHECK(s.labels.data<float>()[i] == doctest::Approx(std::sin(x)).epsilon(1e-6));
  }
  const Dataset sp = nnx::datasets::two_spirals(500, 0.0, nnx::key_from_seed(3));
  for (std::int64_t i = 0; i < sp.size(); ++i) {
    const float* p = sp.features.data<float>() + 2 * i;
    CHECK(std::hypot(p[0], p[1]) <= 1.0 + 1e-6);
  }
  CHECK_THROWS_WITH_AS(nnx::datasets::two_spirals(0, 0.1, nnx::key_from_seed(0)), doctest::Contains("got 0"), nnx::Error);
}

TEST_CASE("Dataset::rows, split and shuffled") {
  const Dataset d = numbered(10);
  const Dataset r = d.rows(2, 5);
  CHECK(r.size() == 3);
  CHECK(values<std::int32_t>(r.labels) == std::vector<std::int32_t>{2, 3, 4});
  CHECK(values<float>(r.features) == std::vector<float>{2, -2, 3, -3, 4, -4});
  CHECK(d.rows(4, 4).size() == 0);
  CHECK_THROWS_WITH_AS(d.rows(3, 11), doctest::Contains("[3, 11) is outside [0, 10)"), nnx::Error);

  const auto [train, test] = d.split(0.8);
  CHECK(values<std::int32_t>(train.labels) == std::vector<std::int32_t>{0, 1, 2, 3, 4, 5, 6, 7});
  CHECK(values<std::int32_t>(test.labels) == std::vector<std::int32_t>{8, 9});
  CHECK(d.split(0.0).first.size() == 0);
  CHECK(d.split(1.0).second.size() == 0);
  CHECK_THROWS_WITH_AS(d.split(1.5), doctest::Contains("1.5"), nnx::Error);

  const Dataset s = d.shuffled(nnx::key_from_seed(4));
  std::vector<std::int32_t> order = values<std::int32_t>(s.labels);
  for (std::size_t i = 0; i < order.size(); ++i) {  // rows move whole
    CHECK(s.features.data<float>()[2 * i] == static_cast<float>(order[i]));
    CHECK(s.features.data<float>()[2 * i + 1] == static_cast<float>(-order[i]));
  }
  CHECK(order != values<std::int32_t>(d.labels));
  CHECK(nnx::array_equal(s.labels, d.shuffled(nnx::key_from_seed(4)).labels));
  CHECK_FALSE(nnx::array_equal(s.labels, d.shuffled(nnx::key_from_seed(5)).labels));
  std::sort(order.begin(), order.end());
  CHECK(order == values<std::int32_t>(d.labels));  // a permutation
}

TEST_CASE("make_dataset checks the row counts") {
  const std::string msg = error_of(
      [] { nnx::make_dataset(Array::zeros({3, 2}, DType::float32), Array::zeros({4}, DType::int32)); });
  CHECK(has(msg, "float32[3,2]"));
  CHECK(has(msg, "int32[4]"));
  CHECK(has(msg, "same number of rows"));
}

TEST_CASE("load_csv parses a header and numeric rows, the label column anywhere") {
  TempDir dir;
  const std::string file = dir.write("data.csv", "x1,label,x2\n1,0,2.5\r\n\n -3.25 , 2 ,+4e1\n0.5,1,-0\n");
  const Dataset d = nnx::load_csv(file);
  CHECK(d.features.shape_dtype() == nnx::ShapeDtype{{3, 2}, DType::float32});
  CHECK(d.labels.shape_dtype() == nnx::ShapeDtype{{3}, DType::int32});
  CHECK(values<float>(d.features) == std::vector<float>{1, 2.5f, -3.25f, 40, 0.5f, -0.0f});
  CHECK(values<std::int32_t>(d.labels) == std::vector<std::int32_t>{0, 2, 1});

  const std::string semi = dir.write("semi.csv", "y;a;b\n0.5;1;2\n-1.5;3;4\n");
  const Dataset f = nnx::load_csv(
      semi, {.label_column = "y", .feature_dtype = DType::float64, .label_dtype = DType::float64, .delimiter = ';'});
  CHECK(f.features.shape_dtype() == nnx::ShapeDtype{{2, 2}, DType::float64});
  CHECK(f.labels.shape_dtype() == nnx::ShapeDtype{{2, 1}, DType::float64});  // float targets are a column
  CHECK(values<double>(f.features) == std::vector<double>{1, 2, 3, 4});
  CHECK(values<double>(f.labels) == std::vector<double>{0.5, -1.5});

  const Dataset crlf = nnx::load_csv(dir.write("crlf.csv", "a,label\r\n1,0\r\n2,1\r\n"));  // Windows line ends
  CHECK(values<float>(crlf.features) == std::vector<float>{1, 2});
  CHECK(values<std::int32_t>(crlf.labels) == std::vector<std::int32_t>{0, 1});
}

TEST_CASE("load_csv errors name the file, line, column and the text found") {
  TempDir dir;
  struct Case {
    std::string name;
    std::string text;
    std::string label_column;
    std::vector<std::string> parts;  // "@" stands for the file's path
  };
  const std::vector<Case> cases = {
      {"bad cell", "a,b,label\n1,2,0\n3,oops,1\n", "label", {"@:3:2", "column 'b'", "'oops'", "expected a number"}},
      {"bad cell after a blank line", "a,label\n1,0\n\n1,2x\n", "label", {"@:4:2", "column 'label'", "'2x'"}},
      {"empty cell", "a,b,label\n1,,0\n", "label", {"@:2:2", "column 'b'", "''"}},
      {"missing label column", "a,b,c\n1,2,3\n", "y", {"no column 'y'", "columns: a, b, c", "label_column"}},
      {"wrong cell count", "a,b,label\n1,2,0\n1,2\n", "label", {"@:3", "expected 3 cells, got 2"}},
      {"too many cells", "a,label\n1,0,5\n", "label", {"@:2", "expected 2 cells, got 3"}},
      {"fractional class label", "a,label\n1,0.5\n", "label", {"@:2:2", "expected a whole number that fits int32", "'0.5'"}},
      {"no rows", "a,label\n", "label", {"header but no rows"}},
      {"empty file", "", "label", {"is empty"}},
      {"label only", "label\n1\n", "label", {"at least one feature column"}},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    const std::string file = dir.write("file.csv", c.text);
    const std::string msg = error_of([&] { nnx::load_csv(file, {.label_column = c.label_column}); });
    CAPTURE(msg);
    for (std::string part : c.parts) {
      if (part[0] == '@') part = file + part.substr(1);
      CHECK(has(msg, part));
    }
  }
  const std::string missing = (dir.path / "nope.csv").string();
  CHECK(has(error_of([&] { nnx::load_csv(missing); }), "cannot open '" + missing + "'"));
}

TEST_CASE("DataLoader: batch shapes, every row once per epoch, a new order each epoch") {
  nnx::Rngs rngs({{"data", 3}});
  nnx::DataLoader loader(numbered(10), 3, rngs, {.drop_last = false});
  CHECK(loader.batches_per_epoch() == 4);
  std::vector<std::vector<std::int32_t>> epochs;
  for (int e = 0; e < 3; ++e) {
    std::vector<std::int32_t> seen;
    for (int b = 0; b < 4; ++b) {
      const nnx::Batch batch = loader.next();
      const std::int64_t rows = b < 3 ? 3 : 1;  // the short last batch is kept
      CHECK(batch.x.shape_dtype() == nnx::ShapeDtype{{rows, 2}, DType::float32});
      CHECK(batch.y.shape_dtype() == nnx::ShapeDtype{{rows}, DType::int32});
      for (std::int32_t y : rows_of(batch)) seen.push_back(y);
      CHECK(loader.epoch() == e);
      CHECK(loader.index() == std::min<std::int64_t>(3 * (b + 1), 10));
    }
    std::vector<std::int32_t> sorted = seen;
    std::sort(sorted.begin(), sorted.end());
    CHECK(sorted == std::vector<std::int32_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
    epochs.push_back(seen);
  }
  CHECK(epochs[0] != epochs[1]);
  CHECK(epochs[1] != epochs[2]);
  CHECK(epochs[0] != values<std::int32_t>(numbered(10).labels));  // shuffled
}

TEST_CASE("DataLoader: drop_last skips the short batch, no shuffle gives rows in order") {
  nnx::Rngs rngs(0);
  nnx::DataLoader dropping(numbered(10), 3, rngs);
  CHECK(dropping.batches_per_epoch() == 3);
  std::set<std::int32_t> seen;
  for (int b = 0; b < 3; ++b)
    for (std::int32_t y : rows_of(dropping.next())) seen.insert(y);
  CHECK(seen.size() == 9);
  CHECK(dropping.epoch() == 0);
  CHECK(dropping.next().y.dim(0) == 3);  // the 10th row is skipped, the next epoch starts
  CHECK(dropping.epoch() == 1);
  CHECK(dropping.index() == 3);

  nnx::DataLoader ordered(numbered(7), 3, rngs, {.shuffle = false, .drop_last = false});
  std::vector<std::int32_t> rows;
  for (int b = 0; b < 6; ++b)
    for (std::int32_t y : rows_of(ordered.next())) rows.push_back(y);
  CHECK(rows == std::vector<std::int32_t>{0, 1, 2, 3, 4, 5, 6, 0, 1, 2, 3, 4, 5, 6});

}

TEST_CASE("DataLoader: a batch_size the dataset cannot serve is refused with the fix that applies") {
  nnx::Rngs rngs(1);
  struct Case {
    std::int64_t batch_size;
    bool drop_last;
    std::vector<std::string> message;  // empty: accepted
  };
  const Case cases[] = {
      {6, true, {"batch_size 6 is larger than the dataset (5 rows)", "drop_last = true", "batch_size in [1, 5]",
                 "DataLoaderOptions{.drop_last = false}"}},
      {0, true, {"batch_size must be >= 1, got 0"}},
      {-3, false, {"batch_size must be >= 1, got -3"}},
      {6, false, {}},  // the fix the first message offers works: one short batch per epoch
      {5, true, {}},
  };
  for (const Case& c : cases) {
    CAPTURE(c.batch_size);
    CAPTURE(c.drop_last);
    const std::string error = error_of([&] { nnx::DataLoader(numbered(5), c.batch_size, rngs, {.drop_last = c.drop_last}); });
    if (c.message.empty()) {
      CHECK(error == "<no exception>");
      nnx::DataLoader loader(numbered(5), c.batch_size, rngs, {.drop_last = c.drop_last});
      CHECK(loader.next().y.dim(0) == 5);
    }
    for (const std::string& part : c.message) CHECK(has(error, part));
  }
}

TEST_CASE("DataLoader: a batch the caller holds is not overwritten by the next one") {
  nnx::Rngs rngs(1);
  nnx::DataLoader loader(numbered(12), 4, rngs);
  const nnx::Batch first = loader.next();
  const Array x = first.x.copy(), y = first.y.copy();
  loader.next();
  loader.next();
  CHECK(nnx::array_equal(first.x, x));
  CHECK(nnx::array_equal(first.y, y));
}

TEST_CASE("DataLoader state: epoch, index (DataState) and key (RngKey)") {
  nnx::Rngs rngs({{"data", 11}});
  nnx::DataLoader loader(numbered(10), 4, rngs);
  for (int i = 0; i < 3; ++i) loader.next();
  const nnx::State s = nnx::state(loader);
  std::vector<std::string> paths;
  for (const auto& [path, var] : s) paths.push_back(path.str());
  CHECK(paths == std::vector<std::string>{"epoch", "index", "key"});
  CHECK(s.at("epoch").kind() == nnx::DataState::static_kind());
  CHECK(s.at("index").kind() == nnx::DataState::static_kind());
  CHECK(s.at("key").kind() == nnx::RngKey::static_kind());
  CHECK(s.at("key").meta("tag") == "data");
  CHECK(s.at("key").value.shape_dtype() == nnx::ShapeDtype{{2}, DType::uint32});
  CHECK(s.at("epoch").value.item<std::int64_t>() == 1);  // 2 batches per epoch: the third started epoch 1
  CHECK(s.at("index").value.item<std::int64_t>() == 4);
  // The key is the one drawn from the "data" stream.
  nnx::Rngs again({{"data", 11}});
  const nnx::Key k = again("data");
  CHECK(values<std::uint32_t>(s.at("key").value) == std::vector<std::uint32_t>{k.hi, k.lo});
}

TEST_CASE("DataLoader resumes exactly from its saved State, across epoch boundaries") {
  for (bool drop_last : {true, false}) {
    CAPTURE(drop_last);
    const Dataset data = numbered(27);
    nnx::Rngs ra({{"data", 1}}), rb({{"data", 99}});
    nnx::DataLoader a(data, 8, ra, {.drop_last = drop_last});
    nnx::DataLoader b(data, 8, rb, {.drop_last = drop_last});
    nnx::DataLoader control(data, 8, rb, {.drop_last = drop_last});  // same position, never restored
    for (int i = 0; i < 7; ++i) {
      a.next();
      control.next();
    }
    const nnx::State saved = nnx::state(a);
    for (int i = 0; i < 7; ++i) b.next();  // b caches its own order for this epoch: restoring must replace it
    nnx::update(b, saved);
    CHECK(b.epoch() == a.epoch());
    CHECK(b.index() == a.index());
    bool control_differs = false;
    const std::int64_t epoch_before = a.epoch();
    for (int i = 0; i < 20; ++i) {
      CAPTURE(i);
      const nnx::Batch x = a.next(), y = b.next(), z = control.next();
      CHECK(nnx::array_equal(x.x, y.x));
      CHECK(nnx::array_equal(x.y, y.y));
      control_differs = control_differs || !nnx::array_equal(x.y, z.y);
    }
    CHECK(a.epoch() >= epoch_before + 2);  // the 20 batches crossed epoch boundaries
    CHECK(control_differs);
    CHECK(nnx::state_equal(nnx::state(a), nnx::state(b)));
  }
}
