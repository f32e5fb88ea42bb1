#include <cmath>

#include "nnx/data.hpp"
#include "nnx/error.hpp"
#include "nnx/init.hpp"
#include "nnx/ops.hpp"
#include "nnx/portable_math.hpp"

namespace nnx {

Dataset make_dataset(Array features, Array labels) {
  if (features.ndim() < 1 || labels.ndim() < 1 || features.dim(0) != labels.dim(0))
    throw Error("make_dataset: features " + features.shape_dtype().str() + " and labels " + labels.shape_dtype().str() +
                " must have the same number of rows");
  return Dataset{std::move(features), std::move(labels)};
}

Dataset Dataset::rows(std::int64_t begin, std::int64_t end) const {
  if (begin < 0 || end < begin || end > size())
    throw Error("Dataset::rows: [" + std::to_string(begin) + ", " + std::to_string(end) + ") is outside [0, " +
                std::to_string(size()) + ")");
  std::vector<std::int64_t> idx;
  for (std::int64_t i = begin; i < end; ++i) idx.push_back(i);
  const Array indices = Array::from_values<std::int64_t>({end - begin}, idx);
  return Dataset{gather_rows(features, indices), gather_rows(labels, indices)};
}

std::pair<Dataset, Dataset> Dataset::split(double fraction) const {
  if (!(fraction >= 0 && fraction <= 1)) throw Error("Dataset::split: fraction must be in [0, 1], got " + std::to_string(fraction));
  const auto cut = static_cast<std::int64_t>(std::floor(fraction * static_cast<double>(size())));
  return {rows(0, cut), rows(cut, size())};
}

Dataset Dataset::shuffled(Key key) const {
  std::vector<std::int64_t> idx(static_cast<std::size_t>(size()));
  for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<std::int64_t>(i);
  for (std::size_t i = idx.size(); i-- > 1;)
    std::swap(idx[i], idx[random_bits(key, static_cast<std::uint32_t>(i)) % (i + 1)]);
  const Array indices = Array::from_values<std::int64_t>({size()}, idx);
  return Dataset{gather_rows(features, indices), gather_rows(labels, indices)};
}

namespace datasets {
namespace {
constexpr double kPi = 3.14159265358979323846;

void check_n(const char* who, std::int64_t n) {
  if (n <= 0 || n > static_cast<std::int64_t>(UINT32_MAX) / 4)
    throw Error(std::string(who) + ": n must be in [1, 2^30), got " + std::to_string(n));
}

struct Draws {  // independent per-purpose keys derived from one key
  Key uniform, noise_x, noise_y;
  explicit Draws(Key key) : uniform(fold_in(key, 0)), noise_x(fold_in(key, 1)), noise_y(fold_in(key, 2)) {}
};
}  // namespace

Dataset two_spirals(std::int64_t n, double noise, Key key) {
  check_n("two_spirals", n);
  const Draws d(key);
  std::vector<float> x(static_cast<std::size_t>(2 * n));
  std::vector<std::int32_t> y(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    const auto u = static_cast<std::uint32_t>(i);
    const double theta = std::sqrt(init::uniform01(d.uniform, u)) * 3 * kPi;  // 1.5 turns
    const double r = theta / (3 * kPi);
    const double sign = i % 2 == 0 ? 1.0 : -1.0;  // classes alternate: class 1 is class 0 rotated by pi
    x[static_cast<std::size_t>(2 * i)] = static_cast<float>(sign * r * portable::cos(theta) + noise * init::standard_normal(d.noise_x, u));
    x[static_cast<std::size_t>(2 * i + 1)] = static_cast<float>(sign * r * portable::sin(theta) + noise * init::standard_normal(d.noise_y, u));
    y[static_cast<std::size_t>(i)] = static_cast<std::int32_t>(i % 2);
  }
  return {Array::from_values<float>({n, 2}, x), Array::from_values<std::int32_t>({n}, y)};
}

Dataset blobs(std::int64_t n, std::int64_t centers, std::int64_t dim, double stddev, Key key) {
  check_n("blobs", n);
  if (centers <= 0 || dim <= 0) throw Error("blobs: centers and dim must be > 0");
  const Draws d(key);
  std::vector<double> c(static_cast<std::size_t>(centers * dim));
  for (std::size_t i = 0; i < c.size(); ++i) c[i] = -5.0 + 10.0 * init::uniform01(d.uniform, static_cast<std::uint32_t>(i));
  std::vector<float> x(static_cast<std::size_t>(n * dim));
  std::vector<std::int32_t> y(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t k = i % centers;
    for (std::int64_t j = 0; j < dim; ++j)
      x[static_cast<std::size_t>(i * dim + j)] = static_cast<float>(
          c[static_cast<std::size_t>(k * dim + j)] + stddev * init::standard_normal(d.noise_x, static_cast<std::uint32_t>(i * dim + j)));
    y[static_cast<std::size_t>(i)] = static_cast<std::int32_t>(k);
  }
  return {Array::from_values<float>({n, dim}, x), Array::from_values<std::int32_t>({n}, y)};
}

Dataset moons(std::int64_t n, double noise, Key key) {
  check_n("moons", n);
  const Draws d(key);
  std::vector<float> x(static_cast<std::size_t>(2 * n));
  std::vector<std::int32_t> y(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    const auto u = static_cast<std::uint32_t>(i);
    const double t = kPi * init::uniform01(d.uniform, u);
    const bool upper = i % 2 == 0;
    const double px = upper ? portable::cos(t) : 1.0 - portable::cos(t);
    const double py = upper ? portable::sin(t) : 0.5 - portable::sin(t);
    x[static_cast<std::size_t>(2 * i)] = static_cast<float>(px + noise * init::standard_normal(d.noise_x, u));
    x[static_cast<std::size_t>(2 * i + 1)] = static_cast<float>(py + noise * init::standard_normal(d.noise_y, u));
    y[static_cast<std::size_t>(i)] = upper ? 0 : 1;
  }
  return {Array::from_values<float>({n, 2}, x), Array::from_values<std::int32_t>({n}, y)};
}

Dataset sine(std::int64_t n, double noise, Key key) {
  check_n("sine", n);
  const Draws d(key);
  std::vector<float> x(static_cast<std::size_t>(n)), y(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    const auto u = static_cast<std::uint32_t>(i);
    const double v = -kPi + 2 * kPi * init::uniform01(d.uniform, u);
    x[static_cast<std::size_t>(i)] = static_cast<float>(v);
    y[static_cast<std::size_t>(i)] = static_cast<float>(portable::sin(v) + noise * init::standard_normal(d.noise_y, u));
  }
  return {Array::from_values<float>({n, 1}, x), Array::from_values<float>({n, 1}, y)};
}
}  // namespace datasets

}  // namespace nnx
