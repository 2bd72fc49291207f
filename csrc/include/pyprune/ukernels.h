// Prototypes of every microkernel, generated from the operator lists (*.inc).
#pragma once

#include <cstddef>

#include "pyprune/common.h"
#include "pyprune/params.h"

// ---- f32 depthwise conv2d, NCHW, one channel plane per call --------------------------------
//
// The input is a zero-padded strip of one channel plane, built by the driver
// (csrc/ops/dwconv2d.cc), so kernels compute a valid convolution with no border cases:
//  - stride 1: padded row r is at input + r * input_stride (bytes), padded column c at [c];
//  - stride 2: padded row r is stored as two rows, its even columns at row 2r and its odd
//    columns at row 2r + 1, so padded column c of row r is at row 2r + (c & 1), index c >> 1.
// output(y, x) = clamp(bias + sum_{i,j} w[i][j] * padded(stride * y + i, stride * x + j)).
// weights = [bias, w[0][0], w[0][1], ..., w[k-1][k-1]].
// Every row of the strip may be read up to PP_DWCONV2D_CHW_ROW_SLACK floats past the last
// column the output needs; outputs are written exactly (output_width floats per row).
#define PP_DWCONV2D_CHW_ROW_SLACK 16

typedef void (*pp_f32_dwconv2d_chw_ukernel_fn)(
    size_t output_height, size_t output_width, const float* input, const float* weights,
    float* output, size_t input_stride, size_t output_stride,
    const pp_f32_minmax_params* params);

#define PP_UKERNEL(isa, name, kernel_size, stride, tile_rows, tile_cols)                    \
  extern "C" void name(size_t output_height, size_t output_width, const float* input,     \
                       const float* weights, float* output, size_t input_stride,           \
                       size_t output_stride, const pp_f32_minmax_params* params);
#include "../../f32-dwconv2d-chw/f32-dwconv2d-chw.inc"
#undef PP_UKERNEL
