#include <cstring>

#include "nnx/data.hpp"
#include "nnx/error.hpp"

namespace nnx {

DataLoader::DataLoader(Dataset data, std::int64_t batch_size, Rngs& rngs, DataLoaderOptions options)
    : epoch_var(Array::scalar<std::int64_t>(0)),
      index_var(Array::scalar<std::int64_t>(0)),
      data_(std::move(data)),
      batch_size_(batch_size),
      options_(std::move(options)) {
  if (data_.size() <= 0) throw Error("DataLoader: the dataset is empty");
  if (data_.labels.ndim() < 1 || data_.labels.dim(0) != data_.size())
    throw Error("DataLoader: features " + data_.features.shape_dtype().str() + " and labels " +
                data_.labels.shape_dtype().str() + " must have the same number of rows");
  const std::string rows = std::to_string(data_.size());
  if (batch_size <= 0) throw Error("DataLoader: batch_size must be >= 1, got " + std::to_string(batch_size));
  if (options_.drop_last && batch_size > data_.size())
    throw Error("DataLoader: batch_size " + std::to_string(batch_size) + " is larger than the dataset (" + rows +
                " rows), and with drop_last = true (the default) a short batch is skipped, so no batch would ever "
                "be served; use a batch_size in [1, " + rows + "], or DataLoaderOptions{.drop_last = false} to get "
                "one batch of all " + rows + " rows per epoch");
  const Key k = rngs(options_.stream);
  key = RngKey(Array::from_values<std::uint32_t>({2}, {k.hi, k.lo}), {{"tag", options_.stream}});
}

std::int64_t DataLoader::epoch() const { return epoch_var.value.item<std::int64_t>(); }
std::int64_t DataLoader::index() const { return index_var.value.item<std::int64_t>(); }

std::int64_t DataLoader::batches_per_epoch() const {
  return options_.drop_last ? data_.size() / batch_size_ : (data_.size() + batch_size_ - 1) / batch_size_;
}

const std::vector<std::int64_t>& DataLoader::order() {
  const std::uint32_t* kw = key.value.data<std::uint32_t>();
  const Key k{kw[0], kw[1]};
  const std::int64_t e = epoch();
  if (e == order_epoch_ && k == order_key_) return order_;
  const auto n = static_cast<std::size_t>(data_.size());
  order_.resize(n);
  for (std::size_t i = 0; i < n; ++i) order_[i] = static_cast<std::int64_t>(i);
  if (options_.shuffle) {
    const Key epoch_key = fold_in(k, static_cast<std::uint32_t>(e));
    for (std::size_t i = n; i-- > 1;)  // Fisher-Yates from 64 random bits: bias below n / 2^64
      std::swap(order_[i], order_[random_bits(epoch_key, static_cast<std::uint32_t>(i)) % (i + 1)]);
  }
  order_epoch_ = e;
  order_key_ = k;
  return order_;
}

namespace {
// Copies the rows `idx[begin, end)` of `src` into `dst` (whose first dim is end - begin).
void copy_rows(const Array& src, const std::vector<std::int64_t>& idx, std::int64_t begin, std::int64_t end, Array& dst) {
  const std::size_t row_bytes = src.nbytes() / static_cast<std::size_t>(src.dim(0));
  auto* out = static_cast<char*>(dst.mutable_raw_data());
  const auto* in = static_cast<const char*>(src.raw_data());
  for (std::int64_t i = begin; i < end; ++i)
    std::memcpy(out + static_cast<std::size_t>(i - begin) * row_bytes,
                in + static_cast<std::size_t>(idx[static_cast<std::size_t>(i)]) * row_bytes, row_bytes);
}

Shape with_rows(Shape s, std::int64_t rows) {
  s[0] = rows;
  return s;
}
}  // namespace

Batch DataLoader::next() {
  if (data_.size() == 0)
    throw Error("DataLoader::next: this DataLoader has no data; it was built by nnx::merge or nnx::clone, which carry "
                "only its declared fields (epoch, index, key, batch_size), not the dataset; construct it with the "
                "dataset and load the saved position with nnx::update(loader, state)");
  std::int64_t start = index();
  const std::int64_t n = data_.size();
  if (start >= n || (options_.drop_last && start + batch_size_ > n)) {  // epoch exhausted: the next one
    epoch_var.value.mutable_data<std::int64_t>()[0] += 1;
    start = 0;
  }
  const std::int64_t end = std::min(start + batch_size_, n);
  const auto& idx = order();
  const std::int64_t rows = end - start;
  if (batch_x_.is_abstract() || batch_x_.dim(0) != rows) {
    batch_x_ = Array::empty(with_rows(data_.features.shape(), rows), data_.features.dtype());
    batch_y_ = Array::empty(with_rows(data_.labels.shape(), rows), data_.labels.dtype());
  }
  copy_rows(data_.features, idx, start, end, batch_x_);  // copy-on-write keeps batches the caller holds intact
  copy_rows(data_.labels, idx, start, end, batch_y_);
  index_var.value.mutable_data<std::int64_t>()[0] = end;
  return Batch{batch_x_, batch_y_};
}

}  // namespace nnx
