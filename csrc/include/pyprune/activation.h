// Activations the kernels fuse into their outputs (epilogues) and the graph runs alone.
// Python-free.
#pragma once

#include <cstddef>
#include <limits>
#include <string>
#include <vector>

#include "pyprune/params.h"

namespace pyprune {

enum class ActivationKind {
  none,
  clamp,        // min(max(x, min), max): ReLU = clamp(0, inf), ReLU6 = clamp(0, 6), Hardtanh
  leaky_relu,   // x >= 0 ? x : alpha * x
  hardswish,    // x * relu6(x + 3) / 6
  hardsigmoid,  // relu6(x + 3) / 6
  silu,         // x * sigmoid(x)
  sigmoid,      // 1 / (1 + exp(-x))
  tanh,
  gelu,         // x * Phi(x) (erf form)
  gelu_tanh,    // GELU's tanh approximation
};

struct Activation {
  ActivationKind kind = ActivationKind::none;
  float min = -std::numeric_limits<float>::infinity();
  float max = std::numeric_limits<float>::infinity();
  float alpha = 0.0f;

  // The kernels' own clamp does it: none, or a clamp.
  bool is_minmax() const { return kind == ActivationKind::none || kind == ActivationKind::clamp; }
  // The clamp to pass to a kernel: this one's if is_minmax(), else none (the epilogue follows).
  pp_f32_minmax_params minmax() const;
  std::string name() const;
};

// The names the graph's `activation` attribute takes, and their kinds ("relu" and "relu6" are
// clamps with their fixed bounds).
const std::vector<std::string>& activation_names();

// data[i] = act(data[i]) for i < n, through the activation microkernel of the active ISA.
void apply_activation(const Activation& act, float* data, size_t n);

}  // namespace pyprune
