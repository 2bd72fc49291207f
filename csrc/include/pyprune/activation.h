// Activations the kernels fuse into their outputs (epilogues) and the graph runs alone.
// Python-free.
#pragma once

#include <cstddef>
#include <limits>
#include <string>
#include <vector>

#include "pyprune/params.h"

struct pp_f32_vunary_ukernel;
struct pp_f32_vbinary_ukernel;

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
  mish,         // x * tanh(softplus(x))
  elu,          // x > 0 ? x : alpha * (exp(x) - 1)
};
constexpr size_t kActivationKinds = static_cast<size_t>(ActivationKind::elu) + 1;

struct Activation {
  ActivationKind kind = ActivationKind::none;
  float min = -std::numeric_limits<float>::infinity();
  float max = std::numeric_limits<float>::infinity();
  float alpha = 0.0f;

  // The kernels' own clamp does it: none, or a clamp.
  bool is_minmax() const { return kind == ActivationKind::none || kind == ActivationKind::clamp; }
  // The clamp to pass to a kernel: this one's if is_minmax(), else none (the epilogue follows).
  pp_f32_minmax_params minmax() const;
  // The parameters of its microkernel (f32-vunary).
  pp_f32_activation_params params() const { return {min, max, alpha}; }
  std::string name() const;
};

// "none", "clamp", "leaky_relu", ...: the kind's name, as activation_names() spells it.
const char* kind_name(ActivationKind kind);

// The names the graph's `activation` attribute takes, and their kinds ("relu" and "relu6" are
// clamps with their fixed bounds).
const std::vector<std::string>& activation_names();

// The activation called `name` (one of activation_names()); min and max bound a "clamp", alpha is
// the slope of "leaky_relu" and the negative limit of "elu", both ignored otherwise. std::invalid_argument for another name,
// min > max or a NaN parameter.
Activation make_activation(const std::string& name, float min, float max, float alpha);

// y[i] = act(x[i]) for i < n, through the activation microkernel of the active ISA, threaded in
// fixed chunks; y may be x.
void apply_activation(const Activation& act, const float* x, float* y, size_t n);
inline void apply_activation(const Activation& act, float* data, size_t n) { apply_activation(act, data, data, n); }

// What a kernel's output goes through after its bias: `residual` (a tensor laid out like the
// output, or nullptr) is added, then the activation applied. The microkernels do a lone clamp
// themselves (kernel_clamp()); the rest runs on each tile just written, while it is in cache
// (apply()). Elementwise, so results do not depend on how the output is tiled.
class Epilogue {
 public:
  explicit Epilogue(const Activation& activation = {}, const float* residual = nullptr);

  // The clamp for the microkernel: the activation's when nothing comes after the kernel.
  pp_f32_minmax_params kernel_clamp() const;
  // Whether apply() has work: a residual, or an activation other than a clamp.
  bool pending() const { return residual_ != nullptr || !activation_.is_minmax(); }
  // `rows` rows of `count` floats at y, `stride` bytes apart, inside the output that starts at
  // `output` (where the residual's matching element is found).
  void apply(float* y, size_t rows, size_t count, size_t stride, const float* output) const;
  // Asks for the residual under the tile apply() will take (same arguments) to be brought into
  // the cache, so that a kernel computing the tile meanwhile hides its latency. No-op without one.
  void prefetch(const float* y, size_t rows, size_t count, size_t stride, const float* output) const;

  const Activation& activation() const { return activation_; }
  const float* residual() const { return residual_; }

 private:
  Activation activation_;
  const float* residual_;
  const pp_f32_vunary_ukernel* ukernel_;  // nullptr for ActivationKind::none
  const pp_f32_vbinary_ukernel* add_;     // adds the residual; nullptr without one
};

}  // namespace pyprune
