// Depthwise convolution of any window (kernel, stride and dilation per axis, padding per side)
// on the f32-dwconv2d-taps kernel, for the windows the strip and "same"-padding kernels do not
// take. Python-free.
#pragma once

#include <cstddef>

#include "pyprune/activation.h"
#include "pyprune/dispatch.h"
#include "pyprune/shape.h"

namespace pyprune {

// Output planes [first, end) of y = epilogue(depthwise(x) + bias), plane p being channel
// p % channels of image p / channels; weights per channel: bias, then kernel_h * kernel_w taps
// (row-major). Not threaded: the caller splits the planes.
void depthwise_taps_planes(const pp_f32_dwconv2d_taps_ukernel& ukernel, const Window2d& window, size_t channels,
                           const float* weights, const Shape4& x, const Shape4& y, const float* input, size_t first,
                           size_t end, float* output, const Epilogue& epilogue);

}  // namespace pyprune
