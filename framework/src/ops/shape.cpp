// Reshape, concatenation, row gathering and slicing, with gradients.
#include <cstring>

#include "kernels.hpp"
#include "nnx/ops.hpp"

namespace nnx {

using detail::Grads;
using detail::Node;

Array reshape(const Array& a, Shape shape) {
  int inferred = -1;
  std::int64_t known = 1;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      if (inferred >= 0) throw Error("reshape: at most one dimension may be -1, got " + shape_string(shape));
      inferred = static_cast<int>(i);
    } else {
      known *= shape[i];
    }
  }
  if (inferred >= 0) {
    if (known == 0 || a.numel() % known != 0)
      throw Error("reshape: cannot reshape " + a.shape_dtype().str() + " to " + shape_string(shape));
    shape[static_cast<std::size_t>(inferred)] = a.numel() / known;
  }
  Array out = a.reshape(shape);  // shares the buffer; throws naming both shapes on a size mismatch
  detail::record(out, "reshape", {a}, {}, [](const Array& g, const Node&, Grads& d) { d[0] = g.reshape(d.shape(0)); });
  return out;
}

Array concat(const std::vector<Array>& arrays, int axis) {
  if (arrays.empty()) throw Error("concat: expected at least one array");
  const Array& first = arrays.front();
  const int rank = first.ndim();
  const int ax = detail::normalize_axis("concat", axis, rank);
  Shape shape = first.shape();
  shape[static_cast<std::size_t>(ax)] = 0;
  for (std::size_t i = 0; i < arrays.size(); ++i) {
    const Array& a = arrays[i];
    detail::check_same_dtype("concat", first, a);
    bool fits = a.ndim() == rank;
    for (int d = 0; fits && d < rank; ++d)
      fits = d == ax || a.shape()[static_cast<std::size_t>(d)] == first.shape()[static_cast<std::size_t>(d)];
    if (!fits)
      throw Error("concat: array " + std::to_string(i) + " is " + a.shape_dtype().str() + ", which does not fit " +
                  first.shape_dtype().str() + " along axis " + std::to_string(ax));
    shape[static_cast<std::size_t>(ax)] += a.shape()[static_cast<std::size_t>(ax)];
  }
  bool abstract = false;
  for (const auto& a : arrays) abstract = abstract || a.is_abstract();
  if (abstract) return Array::abstract(shape, first.dtype());
  // A node has at most kMaxInputs inputs: a longer concat being differentiated is a concat of two
  // concats (the same values; only copies, no arithmetic).
  if (arrays.size() > detail::kMaxInputs && detail::Tape::recording()) {
    const auto half = arrays.begin() + static_cast<std::ptrdiff_t>(arrays.size() / 2);
    return concat({concat({arrays.begin(), half}, ax), concat({half, arrays.end()}, ax)}, ax);
  }
  // View every array as (outer, width_i) where outer = product of dims before the axis.
  std::int64_t outer = 1;
  for (int d = 0; d < ax; ++d) outer *= shape[static_cast<std::size_t>(d)];
  const std::int64_t total = outer ? shape_numel(shape) / outer : 0;
  Array out = Array::empty(shape, first.dtype());
  const std::size_t esize = dtype_size(first.dtype());
  auto* dst = static_cast<char*>(out.mutable_raw_data());
  std::int64_t offset = 0;
  detail::Saved saved;  // num: each input's width (elements per outer row), for the rule
  for (const auto& a : arrays) {
    const std::int64_t w = outer ? a.numel() / outer : 0;
    const auto* src = static_cast<const char*>(a.raw_data());
    for (std::int64_t o = 0; o < outer; ++o)
      std::memcpy(dst + (o * total + offset) * static_cast<std::int64_t>(esize), src + o * w * static_cast<std::int64_t>(esize),
                  static_cast<std::size_t>(w) * esize);
    saved.num[static_cast<std::size_t>(&a - arrays.data())] = static_cast<double>(w);
    offset += w;
  }
  std::vector<std::reference_wrapper<const Array>> inputs(arrays.begin(), arrays.end());
  detail::record(out, "concat", inputs, saved, [](const Array& g, const Node& n, Grads& d) {
    std::int64_t total = 0;
    for (std::size_t i = 0; i < n.n_inputs; ++i) total += static_cast<std::int64_t>(n.num[i]);
    const std::int64_t outer = total ? g.numel() / total : 0;
    const auto esize = static_cast<std::int64_t>(dtype_size(g.dtype()));
    const auto* src = static_cast<const char*>(g.raw_data());
    std::int64_t offset = 0;
    for (std::size_t i = 0; i < n.n_inputs; ++i) {
      const auto width = static_cast<std::int64_t>(n.num[i]);
      if (d.wanted(i)) {
        d[i] = Array::empty(d.shape(i), g.dtype());
        auto* dst = static_cast<char*>(d[i].mutable_raw_data());
        for (std::int64_t o = 0; o < outer; ++o)
          std::memcpy(dst + o * width * esize, src + (o * total + offset) * esize,
                      static_cast<std::size_t>(width * esize));
      }
      offset += width;
    }
  });
  return out;
}

namespace {
std::vector<std::int64_t> row_indices(const Array& indices, std::int64_t rows) {
  std::vector<std::int64_t> idx(static_cast<std::size_t>(indices.numel()));
  if (indices.dtype() == DType::int32) {
    const auto* p = indices.data<std::int32_t>();
    for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = p[i];
  } else if (indices.dtype() == DType::int64) {
    const auto* p = indices.data<std::int64_t>();
    for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = p[i];
  } else {
    throw Error("gather_rows: indices must be int32 or int64, got " + indices.shape_dtype().str());
  }
  for (std::size_t i = 0; i < idx.size(); ++i)
    if (idx[i] < 0 || idx[i] >= rows)
      throw Error("gather_rows: index " + std::to_string(idx[i]) + " at position " + std::to_string(i) +
                  " is out of range for " + std::to_string(rows) + " rows");
  return idx;
}
}  // namespace

Array gather_rows(const Array& a, const Array& indices) {
  if (a.ndim() < 1) throw Error("gather_rows: expected an array with rows, got " + a.shape_dtype().str());
  Shape shape = indices.shape();
  for (std::size_t d = 1; d < a.shape().size(); ++d) shape.push_back(a.shape()[d]);
  if (a.is_abstract() || indices.is_abstract()) return Array::abstract(shape, a.dtype());
  const std::vector<std::int64_t> idx = row_indices(indices, a.dim(0));
  const std::size_t row_bytes = a.dim(0) ? a.nbytes() / static_cast<std::size_t>(a.dim(0)) : 0;
  Array out = Array::empty(shape, a.dtype());
  auto* dst = static_cast<char*>(out.mutable_raw_data());
  const auto* src = static_cast<const char*>(a.raw_data());
  for (std::size_t i = 0; i < idx.size(); ++i)
    std::memcpy(dst + i * row_bytes, src + static_cast<std::size_t>(idx[i]) * row_bytes, row_bytes);
  detail::record(out, "gather_rows", {a}, {.arrays = {indices}}, [](const Array& g, const Node& n, Grads& d) {
    const Shape& shape = d.shape(0);
    const std::vector<std::int64_t> idx = row_indices(n.saved[0], shape[0]);
    Array ga = Array::zeros(shape, g.dtype());
    detail::floating("gather_rows backward", g, [&](auto t) {
      using T = decltype(t);
      const auto width = static_cast<std::size_t>(shape[0] ? ga.numel() / shape[0] : 0);
      T* acc = ga.mutable_data<T>();
      const T* src = g.data<T>();
      for (std::size_t i = 0; i < idx.size(); ++i)  // in order: repeated rows add up deterministically
        for (std::size_t j = 0; j < width; ++j) acc[static_cast<std::size_t>(idx[i]) * width + j] += src[i * width + j];
    });
    d[0] = std::move(ga);
  });
  return out;
}

Array slice_rows(const Array& a, std::int64_t begin, std::int64_t end) {
  if (a.ndim() < 1 || begin < 0 || end < begin || end > a.dim(0))
    throw Error("slice_rows: rows [" + std::to_string(begin) + ", " + std::to_string(end) + ") do not fit " +
                a.shape_dtype().str());
  std::vector<std::int64_t> idx(static_cast<std::size_t>(end - begin));
  for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = begin + static_cast<std::int64_t>(i);
  return gather_rows(a, Array::from_values<std::int64_t>({end - begin}, idx));
}

}  // namespace nnx
