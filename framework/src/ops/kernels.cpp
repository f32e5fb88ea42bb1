#include "kernels.hpp"

namespace nnx::detail {

void check_same_dtype(const char* op, const Array& a, const Array& b) {
  if (a.dtype() != b.dtype())
    throw Error(std::string(op) + ": dtypes differ: " + a.shape_dtype().str() + " and " + b.shape_dtype().str() +
                "; convert one with astype()");
}

int normalize_axis(const char* op, int axis, int rank) {
  const int a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank)
    throw Error(std::string(op) + ": axis " + std::to_string(axis) + " is out of range for an array of rank " +
                std::to_string(rank));
  return a;
}

Broadcast broadcast(const char* op, const Shape& a, const Shape& b) {
  Broadcast p;
  const std::size_t n = std::max(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) p.out.push_back(0);
  std::int64_t sa = 1, sb = 1;
  for (std::size_t k = 0; k < n; ++k) {  // from the right
    const std::size_t d = n - 1 - k;
    const std::int64_t da = k < a.size() ? a[a.size() - 1 - k] : 1;
    const std::int64_t db = k < b.size() ? b[b.size() - 1 - k] : 1;
    if (da != db && da != 1 && db != 1)
      throw Error(std::string(op) + ": cannot broadcast shapes " + shape_string(a) + " and " + shape_string(b) +
                  " (axis " + std::to_string(d) + ": " + std::to_string(da) + " vs " + std::to_string(db) + ")");
    p.out[d] = da == 1 ? db : da;
    p.a_stride[d] = (da == 1 && p.out[d] != 1) ? 0 : sa;
    p.b_stride[d] = (db == 1 && p.out[d] != 1) ? 0 : sb;
    if (p.out[d] == 1) p.a_stride[d] = p.b_stride[d] = 0;
    sa *= da;
    sb *= db;
  }
  return p;
}

Array sum_to_shape(const Array& g, const Shape& shape) {
  if (g.shape() == shape) return g;
  const Broadcast p = broadcast("sum_to_shape", g.shape(), shape);
  if (!(p.out == g.shape()))
    throw Error("sum_to_shape: " + shape_string(shape) + " does not broadcast to " + g.shape_dtype().str());
  Array out = Array::zeros(shape, g.dtype());
  floating("sum_to_shape", g, [&](auto t) {
    using T = decltype(t);
    T* acc = out.mutable_data<T>();
    const T* src = g.data<T>();
    // Walk g in row-major order, adding each element into its target: a fixed summation order.
    const std::size_t n = p.out.size();
    const std::int64_t inner = n ? p.out[n - 1] : 1;
    const std::int64_t numel = g.numel();
    if (numel == 0) return;
    const std::int64_t sb = n ? p.b_stride[n - 1] : 0;
    std::int64_t index[Shape::max_rank] = {};
    std::int64_t bo = 0;
    for (std::int64_t o = 0; o < numel / inner; ++o) {
      const T* x = src + o * inner;
      T* y = acc + bo;
      if (sb == 1)
        for (std::int64_t i = 0; i < inner; ++i) y[i] += x[i];
      else
        for (std::int64_t i = 0; i < inner; ++i) y[0] += x[i];
      for (std::size_t d = n > 0 ? n - 1 : 0; d-- > 0;) {
        bo += p.b_stride[d];
        if (++index[d] < p.out[d]) break;
        bo -= p.b_stride[d] * p.out[d];
        index[d] = 0;
      }
    }
  });
  return out;
}

}  // namespace nnx::detail
