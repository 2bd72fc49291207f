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

// Output rows [first_row, first_row + rows) of one channel plane of `s` (input plane
// [H, W]; weights = bias then k * k taps) into `output`, rows output_stride bytes apart.
// For operators that consume a depthwise result strip by strip.
void depthwise_conv2d_rows(const DepthwiseConv2dShape& s, const pp_f32_dwconv2d_chw_ukernel& ukernel,
                           const float* plane, const float* weights, size_t first_row, size_t rows,
                           float* output, size_t output_stride, const pp_f32_minmax_params& params);

struct Conv2dShape {
  size_t batch, in_channels, out_channels, input_height, input_width;
  size_t kernel_size, stride, padding, groups;
  size_t output_height() const { return (input_height + 2 * padding - kernel_size) / stride + 1; }
  size_t output_width() const { return (input_width + 2 * padding - kernel_size) / stride + 1; }
  // GEMM depth per group: input channels of one group times the kernel's taps.
  size_t depth() const { return in_channels / groups * kernel_size * kernel_size; }
};

// Floats of the packed weights of a convolution for a GEMM kernel with this mr: per group,
// ceil(out channels per group / mr) blocks of mr biases and depth() x mr weights.
size_t conv2d_packed_weights_size(const Conv2dShape& shape, size_t mr);
// Packs weight [Cout, Cin / groups, k, k] and bias [Cout] (nullptr = zeros), see ukernels.h.
void pack_conv2d_weights(const Conv2dShape& shape, size_t mr, const float* weight,
                         const float* bias, float* packed);

// NCHW convolution, dense or grouped, any square kernel, through the GEMM kernel: 1x1
// stride-1 convolutions read the input directly, others through an im2col panel that stays
// in cache. `packed` comes from pack_conv2d_weights with ukernel.mr.
void conv2d_nchw(const Conv2dShape& shape, const float* input, const float* packed, float* output,
                 const pp_f32_minmax_params& params, const pp_f32_gemm_ukernel& ukernel);

// Fused depthwise-separable block: depthwise (shape `dw`, weight [C, k, k], bias [C] or
// nullptr) -> clamp dw_params -> pointwise (packed by pack_conv2d_weights for C inputs,
// out_channels outputs, gemm.mr) -> clamp pw_params, into output [N, out_channels, OH, OW].
// Works strip by strip of output rows so the depthwise result stays in cache.
void separable_conv2d_nchw(const DepthwiseConv2dShape& dw, const float* input,
                           const float* dw_weight, const float* dw_bias,
                           const pp_f32_minmax_params& dw_params,
                           const pp_f32_dwconv2d_chw_ukernel& dw_ukernel, size_t out_channels,
                           const float* pw_packed, const pp_f32_minmax_params& pw_params,
                           const pp_f32_gemm_ukernel& gemm, float* output);

}  // namespace pyprune
