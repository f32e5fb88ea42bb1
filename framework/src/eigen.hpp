// Internal: Eigen views of Arrays, without copying. Not a public header: Eigen/Core is heavy
// and no user translation unit should pay for it (issue 10); include it only in framework/src.
//
//
//   auto w = nnx::eigen::matrix<float>(kernel.value);        // Map of a 2-d array, row-major
//   auto m = nnx::eigen::mutable_matrix<float>(out);         // writes (copy-on-write first)
//   auto v = nnx::eigen::vector<float>(bias.value);          // Map of all elements as a column
//
// matrix() views an N-d array as (product of leading dims, last dim). Maps follow the pointer
// rules of array.hpp: a mutable map is valid until the Array is copied or destroyed.
#pragma once

#include <Eigen/Core>

#include "nnx/array.hpp"
#include "nnx/error.hpp"

namespace nnx::eigen {

template <class T> using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T> using MatrixMap = Eigen::Map<RowMatrix<T>>;
template <class T> using ConstMatrixMap = Eigen::Map<const RowMatrix<T>>;
template <class T> using VectorMap = Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, 1>>;
template <class T> using ConstVectorMap = Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, 1>>;

inline Eigen::Index rows_of(const Array& a) {
  if (a.ndim() == 0) return 1;
  return static_cast<Eigen::Index>(a.numel() / (a.dim(-1) == 0 ? 1 : a.dim(-1)));
}
inline Eigen::Index cols_of(const Array& a) { return a.ndim() == 0 ? 1 : static_cast<Eigen::Index>(a.dim(-1)); }

template <class T> ConstMatrixMap<T> matrix(const Array& a) { return ConstMatrixMap<T>(a.data<T>(), rows_of(a), cols_of(a)); }
template <class T> MatrixMap<T> mutable_matrix(Array& a) { return MatrixMap<T>(a.mutable_data<T>(), rows_of(a), cols_of(a)); }
template <class T> ConstVectorMap<T> vector(const Array& a) { return ConstVectorMap<T>(a.data<T>(), a.numel()); }
template <class T> VectorMap<T> mutable_vector(Array& a) { return VectorMap<T>(a.mutable_data<T>(), a.numel()); }

}  // namespace nnx::eigen
