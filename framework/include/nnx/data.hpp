// nnx/data.hpp — datasets and a resumable, deterministic mini-batch iterator.
//
//   nnx::Dataset train = nnx::datasets::two_spirals(2000, 0.1, nnx::key_from_seed(0));
//   nnx::Dataset iris = nnx::load_csv("iris.csv", {.label_column = "species"});   // a header row
//   nnx::Dataset digits = nnx::load_csv("digits.csv", {.label_index = -1});       // none: by position
//   nnx::Dataset wine = nnx::load_csv("wine_data.csv", {.skip_lines = 1, .label_index = -1});
//   nnx::DataLoader loader(train, 64, rngs);         // shuffles with a key drawn from rngs("data")
//   nnx::Batch batch = loader.next();               // batch.x (64, features), batch.y (64)
//   nnx::state(loader);                              // epoch, index, key: save it with the model
//
// The loader's position is a small State (kind DataState, plus its RngKey): restoring it with
// nnx::update(loader, saved) makes the next batches exactly those the interrupted run would have
// seen. Epoch e is shuffled by a Fisher-Yates permutation drawn from fold_in(key, e).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "nnx/array.hpp"
#include "nnx/module.hpp"
#include "nnx/rngs.hpp"

namespace nnx {

NNX_VARIABLE_KIND(DataState, Variable, "DataState");

// Examples in rows: features (n, f) and labels (n) (class indices, int32) or (n, k) (targets).
struct Dataset {
  Array features;
  Array labels;

  std::int64_t size() const { return features.ndim() ? features.dim(0) : 0; }
  Dataset rows(std::int64_t begin, std::int64_t end) const;  // a copy of rows [begin, end)
  // The first `fraction` of rows and the rest (deterministic; shuffle first if the data is ordered).
  std::pair<Dataset, Dataset> split(double fraction) const;
  Dataset shuffled(Key key) const;
};

// Builds a Dataset, checking that features and labels have the same number of rows.
Dataset make_dataset(Array features, Array labels);

// Whether the first row (after skip_lines and blank lines) names the columns.
//   detect:  (auto; the default) a header if none of its cells is a number, data if all are (a
//            number is what a data cell may be: what std::from_chars reads as a double, with an
//            optional leading '+'); a row with both is an error that says to choose present, absent
//            or skip_lines, and so is a row "0,1,2,...,n-1" (pandas' header for unnamed columns?).
//   present: always a header, even "0,1,2" (pandas writes such names); absent: the first row is data.
// detect is the default so that a file without a header never silently loses its first row to it.
enum class CsvHeader { detect, present, absent };

struct CsvOptions {
  CsvHeader header = CsvHeader::detect;
  std::size_t skip_lines = 0;  // lines dropped first (blank ones count), e.g. 1 for sklearn's wine_data.csv
  // The label column, by name (needs a header) or by position (negative counts from the end: -1
  // is the last column); at most one of them. Neither: the column named "label".
  std::string label_column{};  // {}: designated initializers may leave it out without a -Wextra warning
  std::optional<std::int64_t> label_index{};
  DType feature_dtype = DType::float32;
  DType label_dtype = DType::int32;  // int32 class indices, or float32 / float64 targets
  char delimiter = ',';
};
// Numeric rows, after an optional header row; every column but the label column is a feature. Blank
// lines are skipped, a UTF-8 byte-order mark is ignored. Column names must be unique and non-empty.
// Every mistake is an error naming the file, line and column, what was expected and the text found.
Dataset load_csv(const std::string& path, const CsvOptions& options = {});

namespace datasets {
// Two interleaved spirals, labels 0 / 1, features float32 (n, 2). `noise` is a stddev.
Dataset two_spirals(std::int64_t n, double noise, Key key);
// `centers` Gaussian blobs in `dim` dimensions with centres drawn in [-5, 5]^dim.
Dataset blobs(std::int64_t n, std::int64_t centers, std::int64_t dim, double stddev, Key key);
// Two interleaving half circles, labels 0 / 1.
Dataset moons(std::int64_t n, double noise, Key key);
// y = sin(x) + noise for x uniform in [-pi, pi]; labels float32 (n, 1).
Dataset sine(std::int64_t n, double noise, Key key);
}  // namespace datasets

struct Batch {
  Array x, y;
};

struct DataLoaderOptions {
  bool shuffle = true;
  bool drop_last = true;       // a short final batch is skipped (every batch has batch_size rows)
  std::string stream = "data"; // the Rngs stream the shuffling key is drawn from
};

class DataLoader : public Module {
 public:
  DataLoader(Dataset data, std::int64_t batch_size, Rngs& rngs, DataLoaderOptions options = {});
  DataLoader(Dataset data, std::int64_t batch_size, Rngs&& rngs, DataLoaderOptions options = {})
      : DataLoader(std::move(data), batch_size, rngs, std::move(options)) {}

  Batch next();                        // the next batch; starts a new epoch when one is exhausted
  std::int64_t epoch() const;          // the current epoch, from 0 (a new one starts on demand)
  std::int64_t index() const;          // rows of the current epoch's order served so far
  std::int64_t batches_per_epoch() const;
  const Dataset& data() const { return data_; }

  DataState epoch_var;  // int64 scalar
  DataState index_var;  // int64 scalar
  RngKey key;           // uint32[2], tag "data"

  std::string type_name() const override { return "DataLoader"; }
  void visit(Visitor& v) override {
    v("epoch", epoch_var);
    v("index", index_var);
    v("key", key);
    v("batch_size", batch_size_);
  }
  NNX_MODULE_FACTORY()

 private:
  friend struct Access;
  DataLoader() = default;  // for merge: no data (next() refuses); see next()

  const std::vector<std::int64_t>& order();  // the current epoch's permutation (cached)

  Dataset data_;
  std::int64_t batch_size_ = 0;
  DataLoaderOptions options_;
  std::vector<std::int64_t> order_;
  std::int64_t order_epoch_ = -1;
  Key order_key_{};
  Array batch_x_, batch_y_;  // reused buffers: no allocation per batch in steady state
};

}  // namespace nnx
