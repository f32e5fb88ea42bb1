// nnx/portable_math.hpp — transcendental functions whose results depend only on IEEE arithmetic.
//
// The platform's libm may round differently from one version or machine to the next; these use
// only + - * / and exact bit manipulation (frexp, ldexp), evaluated in double, so the same input
// gives the same bits everywhere. nnx uses them for initializers, activations, losses, schedules
// and synthetic data; they are within a few ulp of double precision (tests check against libm).
#pragma once

namespace nnx::portable {

double exp(double x);
double expm1(double x);   // exp(x) - 1, accurate near 0
double log(double x);     // x > 0 (throws nnx::Error otherwise)
double log1p(double x);   // log(1 + x), accurate near 0; x > -1
double tanh(double x);
double sigmoid(double x);  // 1 / (1 + exp(-x)), without overflow
double sin(double x);
double cos(double x);

}  // namespace nnx::portable
