// Activations applied in place (the epilogue of the kernels that cannot fuse them).
#include "pyprune/activation.h"

#include <algorithm>
#include <cmath>

namespace pyprune {

pp_f32_minmax_params Activation::minmax() const {
  if (kind == ActivationKind::clamp) return {min, max};
  return {-std::numeric_limits<float>::infinity(), std::numeric_limits<float>::infinity()};
}

std::string Activation::name() const {
  switch (kind) {
    case ActivationKind::none: return "none";
    case ActivationKind::clamp:
      if (min == 0.0f && max == std::numeric_limits<float>::infinity()) return "relu";
      if (min == 0.0f && max == 6.0f) return "relu6";
      return "clamp(" + std::to_string(min) + ", " + std::to_string(max) + ")";
    case ActivationKind::leaky_relu: return "leaky_relu(" + std::to_string(alpha) + ")";
    case ActivationKind::hardswish: return "hardswish";
    case ActivationKind::hardsigmoid: return "hardsigmoid";
    case ActivationKind::silu: return "silu";
    case ActivationKind::sigmoid: return "sigmoid";
    case ActivationKind::tanh: return "tanh";
    case ActivationKind::gelu: return "gelu";
    case ActivationKind::gelu_tanh: return "gelu_tanh";
  }
  return "?";
}

const std::vector<std::string>& activation_names() {
  static const std::vector<std::string> names = {"none",        "relu",      "relu6",   "clamp",
                                                 "leaky_relu",  "hardswish", "hardsigmoid", "silu",
                                                 "sigmoid",     "tanh",      "gelu",    "gelu_tanh"};
  return names;
}

namespace {

float relu6(float x) { return std::min(std::max(x, 0.0f), 6.0f); }

// The obvious loop; the vectorised microkernels (f32-vunary) replace it per ISA.
float activate(const Activation& a, float x) {
  switch (a.kind) {
    case ActivationKind::none: return x;
    case ActivationKind::clamp: {
      x = x < a.min ? a.min : x;  // comparisons with NaN are false: NaN stays
      return x > a.max ? a.max : x;
    }
    case ActivationKind::leaky_relu: return x >= 0.0f ? x : a.alpha * x;
    case ActivationKind::hardswish: return x * relu6(x + 3.0f) / 6.0f;
    case ActivationKind::hardsigmoid: return relu6(x + 3.0f) / 6.0f;
    case ActivationKind::silu: return x / (1.0f + std::exp(-x));
    case ActivationKind::sigmoid: return 1.0f / (1.0f + std::exp(-x));
    case ActivationKind::tanh: return std::tanh(x);
    case ActivationKind::gelu: return 0.5f * x * (1.0f + std::erf(x * 0.70710678118654752f));
    case ActivationKind::gelu_tanh: {
      const float inner = 0.7978845608028654f * (x + 0.044715f * x * x * x);
      return 0.5f * x * (1.0f + std::tanh(inner));
    }
  }
  return x;
}

}  // namespace

void apply_activation(const Activation& act, float* data, size_t n) {
  if (act.kind == ActivationKind::none) return;
  for (size_t i = 0; i < n; i++) data[i] = activate(act, data[i]);
}

}  // namespace pyprune
