// Activations and their gradients, computed with portable math (bitwise equal on every machine).
#include "kernels.hpp"
#include "nnx/ops.hpp"
#include "nnx/portable_math.hpp"

namespace nnx {

namespace {
constexpr double kSqrt2OverPi = 0.7978845608028654;
constexpr double kGeluCubic = 0.044715;
}  // namespace

std::string_view activation_name(Activation activation) {
  switch (activation) {
    case Activation::identity: return "identity";
    case Activation::relu: return "relu";
    case Activation::leaky_relu: return "leaky_relu";
    case Activation::gelu: return "gelu";
    case Activation::silu: return "silu";
    case Activation::tanh: return "tanh";
    case Activation::sigmoid: return "sigmoid";
  }
  return "invalid";
}

Activation activation_from_name(std::string_view name) {
  for (Activation a : {Activation::identity, Activation::relu, Activation::leaky_relu, Activation::gelu,
                       Activation::silu, Activation::tanh, Activation::sigmoid})
    if (activation_name(a) == name) return a;
  throw Error("unknown activation '" + std::string(name) +
              "': expected one of identity, relu, leaky_relu, gelu, silu, tanh, sigmoid");
}

Array activate(Activation activation, const Array& x) {
  switch (activation) {
    case Activation::identity: return x;
    case Activation::relu: return relu(x);
    case Activation::leaky_relu: return leaky_relu(x);
    case Activation::gelu: return gelu(x);
    case Activation::silu: return silu(x);
    case Activation::tanh: return tanh(x);
    case Activation::sigmoid: return sigmoid(x);
  }
  throw Error("activate: invalid activation value");
}

Array relu(const Array& x) {
  Array y = detail::map_unary("relu", x, [](auto v) { return v > 0 ? v : decltype(v)(0); });
  detail::record_unary(y, "relu", x, [](auto g, auto v, auto) { return v > 0 ? g : decltype(g)(0); });
  return y;
}

Array leaky_relu(const Array& x, double slope) {
  Array y = detail::map_unary("leaky_relu", x, [slope](auto v) { return v >= 0 ? v : static_cast<decltype(v)>(v * slope); });
  detail::record_unary(y, "leaky_relu", x, {slope}, [](auto g, auto v, auto, const auto& k) {
    return v >= 0 ? g : static_cast<decltype(g)>(g * k[0]);
  });
  return y;
}

Array gelu(const Array& x) {
  Array y = detail::map_unary("gelu", x, [](auto v) {
    const double d = v;
    return static_cast<decltype(v)>(0.5 * d * (1.0 + portable::tanh(kSqrt2OverPi * (d + kGeluCubic * d * d * d))));
  });
  detail::record_unary(y, "gelu", x, [](auto g, double v, double) {
    const double t = portable::tanh(kSqrt2OverPi * (v + kGeluCubic * v * v * v));
    const double du = kSqrt2OverPi * (1.0 + 3.0 * kGeluCubic * v * v);
    return g * static_cast<decltype(g)>(0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * du);
  });
  return y;
}

Array silu(const Array& x) {
  Array y = detail::map_unary("silu", x, [](auto v) { return static_cast<decltype(v)>(v * portable::sigmoid(v)); });
  detail::record_unary(y, "silu", x, [](auto g, double v, double) {
    const double s = portable::sigmoid(v);
    return g * static_cast<decltype(g)>(s * (1.0 + v * (1.0 - s)));
  });
  return y;
}

Array tanh(const Array& x) {
  Array y = detail::map_unary("tanh", x, [](auto v) { return static_cast<decltype(v)>(portable::tanh(v)); });
  detail::record_unary(y, "tanh", x, [](auto g, auto, auto t) { return g * (1 - t * t); });
  return y;
}

Array sigmoid(const Array& x) {
  Array y = detail::map_unary("sigmoid", x, [](auto v) { return static_cast<decltype(v)>(portable::sigmoid(v)); });
  detail::record_unary(y, "sigmoid", x, [](auto g, auto, auto s) { return g * (s * (1 - s)); });
  return y;
}

}  // namespace nnx
