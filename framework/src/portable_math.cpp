#include "nnx/portable_math.hpp"

#include <cmath>
#include <limits>

#include "nnx/error.hpp"

namespace nnx::portable {

namespace {
constexpr double kLn2Hi = 6.93147180369123816490e-01;  // ln 2 split so k * kLn2Hi is exact
constexpr double kLn2Lo = 1.90821492927058770002e-10;
constexpr double kInvLn2 = 1.44269504088896338700e+00;

// 1/k, rounded once at compile time (IEEE, so the same constants on every compiler).
constexpr double kInverse[] = {0.0,      1.0 / 1,  1.0 / 2,  1.0 / 3,  1.0 / 4,  1.0 / 5,  1.0 / 6,
                               1.0 / 7,  1.0 / 8,  1.0 / 9,  1.0 / 10, 1.0 / 11, 1.0 / 12, 1.0 / 13,
                               1.0 / 14, 1.0 / 15, 1.0 / 16, 1.0 / 17, 1.0 / 18, 1.0 / 19, 1.0 / 20,
                               1.0 / 21, 1.0 / 22, 1.0 / 23, 1.0 / 24, 1.0 / 25};

// exp(r) - 1 for |r| <= 0.35, by its Taylor series (Horner, 14 terms: truncation < 1e-18).
double expm1_small(double r) {
  double sum = 0;
  for (int k = 14; k >= 1; --k) sum = r * (1.0 + sum) * kInverse[k];
  return sum;
}
}  // namespace

double exp(double x) {
  if (std::isnan(x)) return x;
  if (x > 709.782712893384) return std::numeric_limits<double>::infinity();
  if (x < -745.1332191019412) return 0.0;
  // x = k ln2 + r with |r| <= ln2 / 2; exp(x) = 2^k (1 + expm1(r)).
  const double k = std::nearbyint(x * kInvLn2);
  const double r = (x - k * kLn2Hi) - k * kLn2Lo;
  return std::ldexp(1.0 + expm1_small(r), static_cast<int>(k));
}

double expm1(double x) {
  if (std::fabs(x) <= 0.35) return expm1_small(x);
  return exp(x) - 1.0;
}

double log(double x) {
  if (!(x > 0) || std::isinf(x)) {
    if (x == std::numeric_limits<double>::infinity()) return x;
    throw Error("portable::log: argument must be > 0, got " + std::to_string(x));
  }
  int e = 0;
  double m = std::frexp(x, &e);  // exact: x = m * 2^e, m in [0.5, 1)
  if (m < 0.70710678118654752440) {
    m *= 2;
    e -= 1;
  }
  // log(m) = 2 atanh(z), z = (m-1)/(m+1), |z| <= 0.1716: the series converges fast.
  const double z = (m - 1) / (m + 1);
  const double z2 = z * z;
  double sum = 0;
  for (int k = 12; k >= 1; --k) sum = z2 * (kInverse[2 * k + 1] + sum);
  const double log_m = 2 * z * (1 + sum);
  return e * 0.69314718055994530942 + log_m;
}

double log1p(double x) {
  if (!(x > -1)) throw Error("portable::log1p: argument must be > -1, got " + std::to_string(x));
  const double u = 1.0 + x;
  if (u == 1.0) return x;
  // log(u) corrected for the rounding of 1 + x (Goldberg's trick).
  return log(u) * (x / (u - 1.0));
}

double tanh(double x) {
  if (std::isnan(x)) return x;
  const double a = std::fabs(x);
  if (a > 22) return x > 0 ? 1.0 : -1.0;
  const double em = expm1(2 * a);
  const double t = em / (em + 2.0);
  return x < 0 ? -t : t;
}

double sigmoid(double x) {
  if (x >= 0) return 1.0 / (1.0 + exp(-x));
  const double e = exp(x);
  return e / (1.0 + e);
}

namespace {
constexpr double kPiOver2Hi = 1.57079632673412561417e+00;  // pi/2 in three parts (Cody-Waite)
constexpr double kPiOver2Mid = 6.07710050650619224932e-11;
constexpr double kPiOver2Lo = 2.02226624879595063154e-21;
constexpr double kTwoOverPi = 6.36619772367581382433e-01;

double sin_poly(double r) {  // |r| <= pi/4
  const double r2 = r * r;
  double sum = 0;
  for (int k = 11; k >= 1; --k) sum = -r2 * (1.0 + sum) / ((2 * k) * (2 * k + 1));
  return r * (1.0 + sum);
}
double cos_poly(double r) {
  const double r2 = r * r;
  double sum = 0;
  for (int k = 11; k >= 1; --k) sum = -r2 * (1.0 + sum) / ((2 * k - 1) * (2 * k));
  return 1.0 + sum;
}

// r in [-pi/4, pi/4] and the quadrant q with x = q pi/2 + r. Accurate for |x| < 1e9.
double reduce(double x, long long& q) {
  if (!(std::fabs(x) < 1e9)) throw Error("portable::sin/cos: |x| must be < 1e9, got " + std::to_string(x));
  const double k = std::nearbyint(x * kTwoOverPi);
  q = static_cast<long long>(k);
  return ((x - k * kPiOver2Hi) - k * kPiOver2Mid) - k * kPiOver2Lo;
}
}  // namespace

double sin(double x) {
  long long q = 0;
  const double r = reduce(x, q);
  switch (q & 3) {
    case 0: return sin_poly(r);
    case 1: return cos_poly(r);
    case 2: return -sin_poly(r);
    default: return -cos_poly(r);
  }
}

double cos(double x) {
  long long q = 0;
  const double r = reduce(x, q);
  switch (q & 3) {
    case 0: return cos_poly(r);
    case 1: return -sin_poly(r);
    case 2: return -cos_poly(r);
    default: return sin_poly(r);
  }
}

}  // namespace nnx::portable
