// Operator drivers: loops over batch and channels, padding, threading. Python-free.
#pragma once

#include <cstddef>

#include "pyprune/dispatch.h"

namespace pyprune {

struct DepthwiseConv2dShape {
  size_t batch, channels, input_height, input_width;
  int kernel_size, stride, padding;
  size_t output_height() const { return (input_height + 2 * padding - kernel_size) / stride + 1; }
  size_t output_width() const { return (input_width + 2 * padding - kernel_size) / stride + 1; }
};

// NCHW depthwise convolution with contiguous input [N, C, H, W], weight [C, k, k],
// optional bias [C] (nullptr = zeros) and output [N, C, OH, OW]; the caller has checked the
// shapes. `ukernel` selects the microkernel (normally pp_f32_dwconv2d_chw_config()).
void depthwise_conv2d_nchw(const DepthwiseConv2dShape& shape, const float* input,
                           const float* weight, const float* bias, float* output,
                           const pp_f32_minmax_params& params,
                           const pp_f32_dwconv2d_chw_ukernel& ukernel);

}  // namespace pyprune
