// f32 depthwise convolution of any window from tap pointers, scalar reference (contract:
// ukernels.h): one output at a time, the taps in order.
#include <algorithm>

#include "pyprune/ukernels.h"

extern "C" void pp_f32_dwconv2d_taps_minmax_ukernel_1x1__ref(size_t rows, size_t n, size_t taps,
                                                              const float* const* tap_rows, size_t row_step,
                                                              const float* weights, float* y, size_t y_stride,
                                                              const pp_f32_minmax_params* params) {
  for (size_t r = 0; r < rows; r++) {
    float* out = reinterpret_cast<float*>(reinterpret_cast<char*>(y) + r * y_stride);
    for (size_t x = 0; x < n; x++) {
      float acc = weights[0];
      for (size_t t = 0; t < taps; t++) {
        const float* row = reinterpret_cast<const float*>(reinterpret_cast<const char*>(tap_rows[t]) + r * row_step);
        acc += weights[1 + t] * row[x];
      }
      out[x] = std::min(std::max(acc, params->min), params->max);
    }
  }
}
