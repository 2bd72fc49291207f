// Activations: names, and their application through the f32-vunary microkernels, alone or as
// the epilogue of a kernel's output tile.
#include "pyprune/activation.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "pyprune/dispatch.h"
#include "pyprune/threadpool.h"

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
    case ActivationKind::elu: return "elu(" + std::to_string(alpha) + ")";
    default: return kind_name(kind);
  }
}

const char* kind_name(ActivationKind kind) {
  switch (kind) {
    case ActivationKind::none: return "none";
    case ActivationKind::clamp: return "clamp";
    case ActivationKind::leaky_relu: return "leaky_relu";
    case ActivationKind::hardswish: return "hardswish";
    case ActivationKind::hardsigmoid: return "hardsigmoid";
    case ActivationKind::silu: return "silu";
    case ActivationKind::sigmoid: return "sigmoid";
    case ActivationKind::tanh: return "tanh";
    case ActivationKind::gelu: return "gelu";
    case ActivationKind::gelu_tanh: return "gelu_tanh";
    case ActivationKind::mish: return "mish";
    case ActivationKind::elu: return "elu";
  }
  return "?";
}

const std::vector<std::string>& activation_names() {
  static const std::vector<std::string> names = {"none",        "relu",      "relu6",   "clamp",
                                                 "leaky_relu",  "hardswish", "hardsigmoid", "silu",
                                                 "sigmoid",     "tanh",      "gelu",    "gelu_tanh",
                                                 "mish",        "elu"};
  return names;
}

Activation make_activation(const std::string& name, float min, float max, float alpha) {
  static const std::vector<ActivationKind> kinds = {
      ActivationKind::none,      ActivationKind::clamp,       ActivationKind::clamp, ActivationKind::clamp,
      ActivationKind::leaky_relu, ActivationKind::hardswish,  ActivationKind::hardsigmoid,
      ActivationKind::silu,      ActivationKind::sigmoid,     ActivationKind::tanh,  ActivationKind::gelu,
      ActivationKind::gelu_tanh, ActivationKind::mish,        ActivationKind::elu};
  const auto& names = activation_names();
  for (size_t i = 0; i < names.size(); i++) {
    if (names[i] != name) continue;
    Activation a;
    a.kind = kinds[i];
    if (name == "relu") a.min = 0.0f;
    if (name == "relu6") a.min = 0.0f, a.max = 6.0f;
    if (name == "clamp") {
      if (!(min <= max)) throw std::invalid_argument("activation minimum must not exceed its maximum");
      a.min = min, a.max = max;
    }
    if (name == "leaky_relu" || name == "elu") {
      if (!std::isfinite(alpha)) throw std::invalid_argument(name + (name == "elu" ? " alpha" : " slope") + " must be finite");
      a.alpha = alpha;
    }
    return a;
  }
  std::string all;
  for (const std::string& n : names) all += (all.empty() ? "" : ", ") + n;
  throw std::invalid_argument("activation must be one of " + all + ", got '" + name + "'");
}

void apply_activation(const Activation& act, const float* x, float* y, size_t n) {
  const pp_f32_vunary_ukernel* ukernel = pp_f32_vunary_config(act.kind);
  const pp_f32_activation_params params = act.params();
  constexpr size_t kChunk = 16384;  // 64 KiB: a task worth its dispatch, well inside L2
  parallel_for(pp_divide_round_up(n, kChunk), [&](size_t i) {
    const size_t first = i * kChunk, count = std::min(kChunk, n - first);
    if (ukernel != nullptr) {
      ukernel->fn(count, x + first, y + first, &params);
    } else if (x != y) {
      std::memcpy(y + first, x + first, count * sizeof(float));
    }
  });
}

Epilogue::Epilogue(const Activation& activation, const float* residual)
    : activation_(activation), residual_(residual), ukernel_(pp_f32_vunary_config(activation.kind)),
      add_(residual != nullptr ? &pp_f32_vbinary_config(pp_vbinary_add, false) : nullptr) {}

pp_f32_minmax_params Epilogue::kernel_clamp() const {
  return residual_ != nullptr ? Activation{}.minmax() : activation_.minmax();
}

void Epilogue::apply(float* y, size_t rows, size_t count, size_t stride, const float* output) const {
  if (!pending() || count == 0) return;
  const pp_f32_activation_params params = activation_.params();
  // A clamp after the residual goes with the addition, in one pass over the tile.
  const bool clamp_with_add = residual_ != nullptr && activation_.is_minmax();
  const pp_f32_minmax_params add_clamp = clamp_with_add ? activation_.minmax() : Activation{}.minmax();
  for (size_t r = 0; r < rows; r++) {
    float* row = reinterpret_cast<float*>(reinterpret_cast<char*>(y) + r * stride);
    if (residual_ != nullptr) add_->fn(count, row, residual_ + (row - output), row, &add_clamp);
    if (ukernel_ != nullptr && !clamp_with_add) ukernel_->fn(count, row, row, &params);
  }
}

void Epilogue::prefetch(const float* y, size_t rows, size_t count, size_t stride, const float* output) const {
  if (residual_ == nullptr) return;
  constexpr size_t kLine = 64;
  for (size_t r = 0; r < rows; r++) {
    const float* row = reinterpret_cast<const float*>(reinterpret_cast<const char*>(y) + r * stride);
    const char* add = reinterpret_cast<const char*>(residual_ + (row - output));
    for (size_t b = 0; b < count * sizeof(float); b += kLine) __builtin_prefetch(add + b);
  }
}

}  // namespace pyprune
