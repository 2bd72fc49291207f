// Parameter blocks passed last to every microkernel.
#pragma once

// Fused activation as a clamp: none = [-inf, inf], ReLU = [0, inf], ReLU6 = [0, 6].
// Kernels clamp as max(min, x) then min(max, x) in the order that keeps NaN.
struct pp_f32_minmax_params {
  float min;
  float max;
};
