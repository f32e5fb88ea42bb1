#include "nnx/array.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <new>
#include <ostream>
#include <mutex>
#include <sstream>
#include <unordered_map>

#include "nnx/error.hpp"

namespace nnx {

namespace {
thread_local bool abstract_mode = false;
constexpr std::size_t kAlignment = 64;  // a cache line; Eigen's aligned maps need 16 at most

// Calls f(T*) with the element type of `dtype`.
template <class F> decltype(auto) dispatch(DType dtype, F&& f) {
  switch (dtype) {
    case DType::float32: return f(static_cast<float*>(nullptr));
    case DType::float64: return f(static_cast<double*>(nullptr));
    case DType::int32: return f(static_cast<std::int32_t*>(nullptr));
    case DType::int64: return f(static_cast<std::int64_t*>(nullptr));
    case DType::uint32: return f(static_cast<std::uint32_t*>(nullptr));
  }
  throw Error("nnx: invalid dtype value " + std::to_string(static_cast<int>(dtype)));
}
// static_cast, except that a floating value outside an integer type's range (or NaN) — undefined
// behaviour for a cast — saturates (NaN becomes 0), and fractions truncate toward zero.
template <class D, class S> D convert(S v) {
  if constexpr (std::is_floating_point_v<S> && std::is_integral_v<D>) {
    if (std::isnan(v)) return D(0);
    if (v <= static_cast<S>(std::numeric_limits<D>::min())) return std::numeric_limits<D>::min();
    if (v >= static_cast<S>(std::numeric_limits<D>::max())) return std::numeric_limits<D>::max();
  }
  return static_cast<D>(v);
}
}  // namespace

std::string_view dtype_name(DType dtype) {
  switch (dtype) {
    case DType::float32: return "float32";
    case DType::float64: return "float64";
    case DType::int32: return "int32";
    case DType::int64: return "int64";
    case DType::uint32: return "uint32";
  }
  return "invalid";
}

DType dtype_from_name(std::string_view name) {
  for (DType d : {DType::float32, DType::float64, DType::int32, DType::int64, DType::uint32})
    if (dtype_name(d) == name) return d;
  throw Error("unknown dtype '" + std::string(name) +
              "': expected one of float32, float64, int32, int64, uint32");
}

std::size_t dtype_size(DType dtype) {
  return dispatch(dtype, [](auto* p) { return sizeof(*p); });
}

bool dtype_is_floating(DType dtype) { return dtype == DType::float32 || dtype == DType::float64; }

Shape::Shape(std::initializer_list<std::int64_t> dims) {
  for (std::int64_t d : dims) push_back(d);
}

Shape::Shape(std::span<const std::int64_t> dims) {
  for (std::int64_t d : dims) push_back(d);
}

void Shape::push_back(std::int64_t d) {
  if (size_ == max_rank)
    throw Error("shapes have at most " + std::to_string(max_rank) + " dimensions; cannot add another to " +
                shape_string(*this));
  dims_[size_++] = d;
}

void Shape::erase(std::size_t axis) {
  for (std::size_t i = axis; i + 1 < size_; ++i) dims_[i] = dims_[i + 1];
  --size_;
}

void Shape::insert(std::size_t axis, std::int64_t d) {
  push_back(0);
  for (std::size_t i = size_ - 1; i > axis; --i) dims_[i] = dims_[i - 1];
  dims_[axis] = d;
}

bool Shape::operator==(const Shape& o) const {
  return size_ == o.size_ && std::equal(begin(), end(), o.begin());
}

std::int64_t shape_numel(const Shape& shape) {
  std::int64_t n = 1;
  for (std::int64_t d : shape) {
    if (d < 0) throw Error("invalid shape " + shape_string(shape) + ": dimensions must be >= 0");
    if (__builtin_mul_overflow(n, d, &n))  // (no division: this runs for every Array a step makes)
      throw Error("invalid shape " + shape_string(shape) + ": element count overflows int64");
  }
  return n;
}

std::string shape_string(const Shape& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ",";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

std::string ShapeDtype::str() const { return std::string(dtype_name(dtype)) + shape_string(shape); }

AbstractScope::AbstractScope() : previous_(abstract_mode) { abstract_mode = true; }
AbstractScope::~AbstractScope() { abstract_mode = previous_; }
bool AbstractScope::active() { return abstract_mode; }

// Freed buffers are kept for reuse, by exact size: a training step allocates the same shapes every
// time, so in steady state it allocates nothing from the system. Two levels: each thread keeps up
// to kLocalBytes in its own bins (no lock: most of a step's buffers are freed on the thread that
// made them), and behind them a shared cache of up to kSharedBytes for large blocks (a buffer
// freed by the checkpoint writer thread, say) under a mutex.
namespace {
struct SharedCache {
  static constexpr std::size_t kSharedBytes = 64 << 20;
  static constexpr std::size_t kMinBlock = 4096;  // smaller blocks: not worth the lock
  std::mutex mutex;
  std::unordered_map<std::size_t, std::vector<void*>> free_blocks;
  std::size_t cached = 0;
};
SharedCache& shared_cache() {
  static SharedCache* cache = new SharedCache;  // never destroyed: buffers may be freed during static destruction
  return *cache;
}

void free_block(void* block) { ::operator delete(block, std::align_val_t{kAlignment}); }

void* take_shared(std::size_t total) {
  if (total < SharedCache::kMinBlock) return nullptr;
  SharedCache& c = shared_cache();
  std::lock_guard lock(c.mutex);
  auto it = c.free_blocks.find(total);
  if (it == c.free_blocks.end() || it->second.empty()) return nullptr;
  void* block = it->second.back();
  it->second.pop_back();
  c.cached -= total;
  return block;
}

void give_shared(void* block, std::size_t total) {
  if (total >= SharedCache::kMinBlock) {
    SharedCache& c = shared_cache();
    std::lock_guard lock(c.mutex);
    if (c.cached + total <= SharedCache::kSharedBytes) {
      c.free_blocks[total].push_back(block);
      c.cached += total;
      return;
    }
  }
  free_block(block);
}

// A thread's own bins, most recently used first (a step uses a handful of sizes).
struct LocalCache {
  static constexpr std::size_t kLocalBytes = 16 << 20;
  static constexpr std::size_t kMaxBins = 64;
  struct Bin {
    std::size_t total;
    std::vector<void*> blocks;
  };
  std::vector<Bin> bins;
  std::size_t cached = 0;

  Bin* find(std::size_t total) {
    for (std::size_t i = 0; i < bins.size(); ++i)
      if (bins[i].total == total) {
        if (i > 0) std::swap(bins[i], bins[i - 1]);  // move towards the front
        return &bins[i > 0 ? i - 1 : 0];
      }
    return nullptr;
  }
  ~LocalCache() {
    for (Bin& bin : bins)
      for (void* block : bin.blocks) give_shared(block, bin.total);
  }
};
thread_local bool t_local_gone = false;  // trivially destructible: readable after the cache is gone
struct LocalCacheOwner {
  LocalCache cache;
  ~LocalCacheOwner() { t_local_gone = true; }
};
LocalCache* local_cache() {
  if (t_local_gone) return nullptr;  // this thread is exiting: its cache was destroyed
  static thread_local LocalCacheOwner owner;
  return &owner.cache;
}
}  // namespace

// One aligned allocation: the Storage header, then the data at offset kAlignment. Through
// operator new, so allocation counters (the eval_shape test) see it.
Array::StoragePtr Array::StoragePtr::allocate(std::size_t bytes) {
  const std::size_t total = kAlignment + std::max<std::size_t>(bytes, 1);
  void* block = nullptr;
  if (LocalCache* local = local_cache())
    if (LocalCache::Bin* bin = local->find(total); bin && !bin->blocks.empty()) {
      block = bin->blocks.back();
      bin->blocks.pop_back();
      local->cached -= total;
    }
  if (!block) block = take_shared(total);
  if (!block) block = ::operator new(total, std::align_val_t{kAlignment});
  auto* s = new (block) Storage{{1}, bytes, static_cast<char*>(block) + kAlignment};
  StoragePtr p;
  p.p_ = s;
  return p;
}

void Array::StoragePtr::release(Storage* p) {
  const std::size_t total = kAlignment + std::max<std::size_t>(p->bytes, 1);
  p->~Storage();
  if (LocalCache* local = local_cache(); local && local->cached + total <= LocalCache::kLocalBytes) {
    LocalCache::Bin* bin = local->find(total);
    if (!bin && local->bins.size() < LocalCache::kMaxBins) bin = &local->bins.emplace_back(LocalCache::Bin{total, {}});
    if (bin) {
      bin->blocks.push_back(p);
      local->cached += total;
      return;
    }
  }
  give_shared(p, total);
}

Array::Array() : shape_{0}, numel_(0) {}

namespace {
// shape_numel, also checking that numel * dtype_size (nbytes, the buffer size) fits in size_t:
// otherwise the byte count wraps and a huge shape gets a tiny buffer.
std::int64_t checked_numel(const Shape& shape, DType dtype) {
  std::int64_t n = shape_numel(shape);
  if (static_cast<std::uint64_t>(n) > std::numeric_limits<std::size_t>::max() / dtype_size(dtype))
    throw Error("invalid shape " + shape_string(shape) + ": a " + std::string(dtype_name(dtype)) +
                " array of that shape has more bytes than size_t can count");
  return n;
}
}  // namespace

Array::Array(Shape shape, DType dtype, StoragePtr storage)
    : storage_(std::move(storage)), shape_(std::move(shape)), dtype_(dtype) {
  numel_ = checked_numel(shape_, dtype_);
}

Array Array::make(Shape shape, DType dtype, const void* values) {
  const std::int64_t n = checked_numel(shape, dtype);
  Array out;
  out.shape_ = std::move(shape);
  out.dtype_ = dtype;
  out.numel_ = n;  // checked once (this runs for every Array a step makes)
  if (abstract_mode) return out;
  out.storage_ = StoragePtr::allocate(static_cast<std::size_t>(n) * dtype_size(dtype));
  if (values) std::memcpy(out.storage_->data, values, out.storage_->bytes);
  return out;
}

Array Array::empty(Shape shape, DType dtype) { return make(std::move(shape), dtype, nullptr); }
Array Array::zeros(Shape shape, DType dtype) { return full(std::move(shape), dtype, 0.0); }
Array Array::ones(Shape shape, DType dtype) { return full(std::move(shape), dtype, 1.0); }

Array Array::full(Shape shape, DType dtype, double value) {
  Array a = make(std::move(shape), dtype, nullptr);
  if (a.is_abstract()) return a;
  dispatch(dtype, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    T* p = static_cast<T*>(a.storage_->data);
    std::fill(p, p + a.numel_, convert<T>(value));
  });
  return a;
}

Array Array::abstract(Shape shape, DType dtype) { return Array(std::move(shape), dtype, nullptr); }

template <class T> Array Array::from_values(Shape shape, std::span<const T> values) {
  std::int64_t n = shape_numel(shape);
  if (static_cast<std::int64_t>(values.size()) != n)
    throw Error("Array::from_values: shape " + shape_string(shape) + " holds " + std::to_string(n) +
                " elements, got " + std::to_string(values.size()) + " values");
  return make(std::move(shape), dtype_of<T>(), values.data());
}

template <class T> T Array::item() const {
  if (numel_ != 1)
    throw Error("Array::item: expected an array of one element, got " + shape_dtype().str());
  return *data<T>();
}

#define NNX_INSTANTIATE(T)                                                      \
  template Array Array::from_values<T>(Shape, std::span<const T>);              \
  template T Array::item<T>() const;
NNX_INSTANTIATE(float)
NNX_INSTANTIATE(double)
NNX_INSTANTIATE(std::int32_t)
NNX_INSTANTIATE(std::int64_t)
NNX_INSTANTIATE(std::uint32_t)
#undef NNX_INSTANTIATE

std::int64_t Array::dim(int axis) const {
  int n = ndim();
  int a = axis < 0 ? axis + n : axis;
  if (a < 0 || a >= n)
    throw Error("axis " + std::to_string(axis) + " is out of range for " + shape_dtype().str());
  return shape_[static_cast<std::size_t>(a)];
}

const void* Array::raw_data() const {
  if (!storage_)
    throw Error("cannot read the data of abstract array " + shape_dtype().str() +
                ": it has a shape and dtype only (made by eval_shape or for a restore target); "
                "restore or merge concrete values first");
  return storage_->data;
}

void* Array::mutable_raw_data() {
  raw_data();  // the abstract check
  if (storage_.use_count() > 1) {  // copy-on-write: detach from the other owners first
    auto fresh = StoragePtr::allocate(storage_->bytes);
    std::memcpy(fresh->data, storage_->data, storage_->bytes);
    storage_ = std::move(fresh);
  }
  return storage_->data;
}

const void* Array::check_data(DType expected) const {
  if (expected != dtype_)
    throw Error("array " + shape_dtype().str() + ": expected dtype " + std::string(dtype_name(expected)) +
                ", got " + std::string(dtype_name(dtype_)));
  return raw_data();
}

void* Array::check_mutable_data(DType expected) {
  check_data(expected);
  return mutable_raw_data();
}

bool Array::shares_buffer() const { return storage_ && storage_.use_count() > 1; }

Array Array::copy() const {
  if (!storage_) return *this;
  auto fresh = StoragePtr::allocate(storage_->bytes);
  std::memcpy(fresh->data, storage_->data, storage_->bytes);
  return Array(shape_, dtype_, std::move(fresh));
}

Array Array::astype(DType dtype) const {
  if (!storage_) return abstract(shape_, dtype);
  if (dtype == dtype_) return copy();
  auto fresh = StoragePtr::allocate(static_cast<std::size_t>(numel_) * dtype_size(dtype));
  dispatch(dtype_, [&](auto* src_tag) {
    using S = std::remove_pointer_t<decltype(src_tag)>;
    dispatch(dtype, [&](auto* dst_tag) {
      using D = std::remove_pointer_t<decltype(dst_tag)>;
      const S* src = static_cast<const S*>(storage_->data);
      D* dst = static_cast<D*>(fresh->data);
      for (std::int64_t i = 0; i < numel_; ++i) dst[i] = convert<D>(src[i]);
    });
  });
  return Array(shape_, dtype, std::move(fresh));
}

Array Array::reshape(Shape shape) const {
  if (shape_numel(shape) != numel_)
    throw Error("cannot reshape " + shape_dtype().str() + " to " + shape_string(shape) +
                ": element counts differ");
  Array a = *this;
  a.shape_ = std::move(shape);
  a.node_ = -1;  // not differentiated: nnx::reshape is the differentiable reshape
  return a;
}

bool array_equal(const Array& a, const Array& b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) return false;
  if (a.is_abstract() || b.is_abstract()) return a.is_abstract() == b.is_abstract();
  return a.same_buffer(b) || std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) == 0;
}

double max_abs_difference(const Array& a, const Array& b) {
  if (a.shape() != b.shape())
    throw Error("max_abs_difference: shapes differ: " + a.shape_dtype().str() + " vs " + b.shape_dtype().str());
  Array x = a.astype(DType::float64), y = b.astype(DType::float64);
  const double* p = x.data<double>();
  const double* q = y.data<double>();
  double m = 0;
  for (std::int64_t i = 0; i < x.numel(); ++i) {
    double d = std::fabs(p[i] - q[i]);
    if (d > m || std::isnan(d)) m = d;
  }
  return m;
}

std::ostream& operator<<(std::ostream& os, DType dtype) { return os << dtype_name(dtype); }
std::ostream& operator<<(std::ostream& os, const ShapeDtype& sd) { return os << sd.str(); }

std::ostream& operator<<(std::ostream& os, const Array& a) {
  os << a.shape_dtype().str();
  if (a.is_abstract()) return os << " (abstract)";
  os << " {";
  std::int64_t shown = std::min<std::int64_t>(a.numel(), 8);
  dispatch(a.dtype(), [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    const T* p = static_cast<const T*>(a.raw_data());
    for (std::int64_t i = 0; i < shown; ++i) {
      if (i) os << ", ";
      if constexpr (std::is_floating_point_v<T>) {
        std::ostringstream s;
        s.precision(std::numeric_limits<T>::max_digits10);
        s << p[i];
        os << s.str();
      } else {
        os << +p[i];
      }
    }
  });
  if (a.numel() > shown) os << ", ...";
  return os << "}";
}

}  // namespace nnx
