// nnx/array.hpp — N-d arrays with value semantics and zero-copy sharing.
//
// An Array is a dtype, a shape and (unless it is abstract) a contiguous row-major buffer.
//
//   nnx::Array x = nnx::Array::zeros({32, 4}, nnx::DType::float32);
//   float* p = x.mutable_data<float>();          // row-major, 64-byte aligned
//   nnx::Array y = x;                            // O(1): y shares x's buffer ...
//   y.mutable_data<float>()[0] = 1.f;            // ... until one side writes: y copies first
//   nnx::Array a = nnx::Array::abstract({1'000'000'000}, nnx::DType::float32);  // no memory
//
// Copying rules (the contract every other component relies on):
//  * Copying an Array is O(1): the copy shares the buffer (a reference count, like a jax.Array or
//    torch::Tensor). Arrays behave as values nonetheless: the first mutable access (mutable_data,
//    a mutable Eigen map) to a buffer that is shared copies it first (copy-on-write). So split,
//    state, merge and saving a checkpoint never copy parameters, and mutating one never shows in another.
//  * A pointer or Eigen map from mutable_data() is valid until the Array is copied, assigned or
//    destroyed. Writing through it after the Array was copied writes into both: take mutable
//    pointers after copying, not before (the same caveat as Qt's implicit sharing).
//  * copy() always makes a private deep copy; astype() converts (copying).
//  * An abstract Array (is_abstract()) has a shape and dtype and no buffer: it is what eval_shape
//    produces and what a restore target holds; the NNX equivalent of jax.ShapeDtypeStruct. Reading
//    its data throws.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace nnx {

class Variable;

namespace detail {
struct TapeAccess;

// The Variable whose `value` an Array object is: a property of the object, not of its contents.
// A copy of the Array belongs to nobody; assigning to the Array keeps it its Variable's. Ops read
// it to notice a Variable that is missing from its module's State (module.hpp, FieldCheck).
class OwnerMark {
 public:
  OwnerMark() = default;
  OwnerMark(const OwnerMark&) noexcept {}
  OwnerMark& operator=(const OwnerMark&) noexcept { return *this; }
  const Variable* get() const { return owner_; }
  void set(const Variable* owner) { owner_ = owner; }

 private:
  const Variable* owner_ = nullptr;
};
}  // namespace detail

// Element types. The numeric values are stable: later components write them to disk.
enum class DType : std::uint8_t { float32 = 0, float64 = 1, int32 = 2, int64 = 3, uint32 = 4 };

std::string_view dtype_name(DType dtype);             // "float32", ...
DType dtype_from_name(std::string_view name);          // throws nnx::Error naming the bad name
std::size_t dtype_size(DType dtype);                   // bytes per element
bool dtype_is_floating(DType dtype);

template <class T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::float32; }
template <> constexpr DType dtype_of<double>() { return DType::float64; }
template <> constexpr DType dtype_of<std::int32_t>() { return DType::int32; }
template <> constexpr DType dtype_of<std::int64_t>() { return DType::int64; }
template <> constexpr DType dtype_of<std::uint32_t>() { return DType::uint32; }

// Dimensions of an array, stored inline (no heap allocation: Arrays are copied on hot paths).
class Shape {
 public:
  static constexpr std::size_t max_rank = 8;
  Shape() = default;
  Shape(std::initializer_list<std::int64_t> dims);
  explicit Shape(std::span<const std::int64_t> dims);
  template <class It> Shape(It first, It last) {
    for (; first != last; ++first) push_back(static_cast<std::int64_t>(*first));
  }

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::int64_t operator[](std::size_t i) const { return dims_[i]; }
  std::int64_t& operator[](std::size_t i) { return dims_[i]; }
  std::int64_t back() const { return dims_[size_ - 1]; }
  std::int64_t& back() { return dims_[size_ - 1]; }
  const std::int64_t* begin() const { return dims_; }
  const std::int64_t* end() const { return dims_ + size_; }
  std::int64_t* begin() { return dims_; }
  std::int64_t* end() { return dims_ + size_; }
  const std::int64_t* data() const { return dims_; }
  void push_back(std::int64_t d);  // throws nnx::Error beyond max_rank
  void pop_back() { --size_; }
  void erase(std::size_t axis);
  void insert(std::size_t axis, std::int64_t d);

  bool operator==(const Shape& o) const;

 private:
  std::int64_t dims_[max_rank] = {};
  std::uint32_t size_ = 0;
};

std::int64_t shape_numel(const Shape& shape);  // throws on negative dims or overflow
std::string shape_string(const Shape& shape);  // "[32,4]"

// Shape and dtype of an array: "float32[32,4]".
struct ShapeDtype {
  Shape shape;
  DType dtype = DType::float32;
  bool operator==(const ShapeDtype&) const = default;
  std::string str() const;
};

// While an AbstractScope is alive on a thread, every Array factory on that thread (zeros, full,
// from_values, the initializers, ...) returns abstract Arrays. eval_shape is built on it.
class AbstractScope {
 public:
  AbstractScope();
  ~AbstractScope();
  AbstractScope(const AbstractScope&) = delete;
  AbstractScope& operator=(const AbstractScope&) = delete;
  static bool active();

 private:
  bool previous_;
};

class Array {
 public:
  // An empty abstract float32 scalar-less array: shape {0}. Mostly a placeholder.
  Array();

  static Array empty(Shape shape, DType dtype);  // uninitialised buffer
  static Array zeros(Shape shape, DType dtype);
  static Array ones(Shape shape, DType dtype);
  static Array full(Shape shape, DType dtype, double value);  // value converted to dtype
  static Array abstract(Shape shape, DType dtype);
  static Array abstract(const ShapeDtype& sd) { return abstract(sd.shape, sd.dtype); }
  template <class T> static Array from_values(Shape shape, std::span<const T> values);
  template <class T> static Array from_values(Shape shape, std::initializer_list<T> values) {
    return from_values<T>(std::move(shape), std::span<const T>(values.begin(), values.size()));
  }
  template <class T> static Array scalar(T value) { return from_values<T>({}, {value}); }

  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  std::int64_t dim(int axis) const;  // negative axes count from the end
  int ndim() const { return static_cast<int>(shape_.size()); }
  std::int64_t numel() const { return numel_; }
  std::size_t nbytes() const { return static_cast<std::size_t>(numel_) * dtype_size(dtype_); }
  bool is_abstract() const { return !storage_; }
  ShapeDtype shape_dtype() const { return {shape_, dtype_}; }

  // Typed access; T must match dtype() (else nnx::Error "expected float32, got float64").
  template <class T> const T* data() const { return static_cast<const T*>(check_data(dtype_of<T>())); }
  template <class T> T* mutable_data() { return static_cast<T*>(check_mutable_data(dtype_of<T>())); }
  const void* raw_data() const;  // throws if abstract
  void* mutable_raw_data();      // copy-on-write; throws if abstract
  template <class T> T item() const;  // the single element of a size-1 array

  Array copy() const;                  // deep copy (abstract stays abstract)
  Array astype(DType dtype) const;     // converting copy; float -> int truncates, saturates, NaN -> 0
  Array reshape(Shape shape) const;    // shares the buffer; numel must match
  Array as_abstract() const { return abstract(shape_, dtype_); }

  // True when this Array's buffer is shared with another Array (a write would copy it).
  bool shares_buffer() const;
  bool same_buffer(const Array& other) const { return storage_ && storage_ == other.storage_; }

  // Autodiff: the node of the active gradient tape that computed this value, or -1 when it is not
  // being differentiated (see autodiff.hpp). Copies carry the node along.
  std::int32_t grad_node() const;
  // The Variable this Array object is the `value` of, or null (copies are nobody's value).
  const Variable* owner() const { return owner_.get(); }

 private:
  friend struct detail::TapeAccess;
  friend class Variable;
  // The buffer and its reference count, in one allocation (header, then the 64-byte aligned data).
  struct Storage {
    std::atomic<std::int64_t> refs;
    std::size_t bytes;
    void* data;
  };
  // An intrusive reference to a Storage: one allocation per buffer, no control block.
  class StoragePtr {
   public:
    StoragePtr() = default;
    StoragePtr(std::nullptr_t) {}
    static StoragePtr allocate(std::size_t bytes);
    StoragePtr(const StoragePtr& o) noexcept : p_(o.p_) {
      if (p_) p_->refs.fetch_add(1, std::memory_order_relaxed);
    }
    StoragePtr(StoragePtr&& o) noexcept : p_(o.p_) { o.p_ = nullptr; }
    StoragePtr& operator=(StoragePtr o) noexcept {
      std::swap(p_, o.p_);
      return *this;
    }
    ~StoragePtr() {
      if (p_ && p_->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) release(p_);
    }
    explicit operator bool() const { return p_ != nullptr; }
    Storage* operator->() const { return p_; }
    std::int64_t use_count() const { return p_ ? p_->refs.load(std::memory_order_acquire) : 0; }
    bool operator==(const StoragePtr& o) const { return p_ == o.p_; }

   private:
    static void release(Storage* p);
    Storage* p_ = nullptr;
  };
  Array(Shape shape, DType dtype, StoragePtr storage);
  const void* check_data(DType expected) const;
  void* check_mutable_data(DType expected);
  static Array make(Shape shape, DType dtype, const void* values_or_null);

  StoragePtr storage_;
  Shape shape_;
  std::int64_t numel_ = 0;
  DType dtype_ = DType::float32;
  std::int32_t node_ = -1;   // tape node, valid only while tape_ is the active tape
  std::uint32_t tape_ = 0;
  detail::OwnerMark owner_;  // not copied: see OwnerMark
};

// Bitwise equality of dtype, shape and contents. Abstract arrays are equal when dtype and shape are.
bool array_equal(const Array& a, const Array& b);
// Largest |a - b| over all elements, as double (shapes must match). For comparisons and diffs.
double max_abs_difference(const Array& a, const Array& b);

std::ostream& operator<<(std::ostream& os, DType dtype);
std::ostream& operator<<(std::ostream& os, const ShapeDtype& sd);
// Prints "float32[2,3]" followed by up to 8 leading values, or "(abstract)".
std::ostream& operator<<(std::ostream& os, const Array& a);

}  // namespace nnx
