// Depthwise convolution (NCHW): one channel plane at a time, through the f32-dwconv2d-chw
// kernels. Python-free.
#pragma once

#include <cstddef>
#include <vector>

#include "pyprune/dispatch.h"
#include "pyprune/shape.h"

namespace pyprune {

// A depthwise convolution with its weights laid out for the kernels: per channel its bias,
// then its k * k taps.
class DepthwiseConv2d {
 public:
  // weight [channels, 1, k, k] (row-major), bias [channels] or nullptr (zeros). `ukernel`
  // nullptr picks the production kernel. std::invalid_argument when no kernel takes it.
  DepthwiseConv2d(size_t channels, size_t kernel_size, size_t stride, size_t padding, const float* weight,
                  const float* bias, const pp_f32_dwconv2d_chw_ukernel* ukernel = nullptr);

  // The output shape for input `x`; std::invalid_argument naming x if it does not fit.
  Shape4 output_shape(const Shape4& x) const;
  // y = clamp(depthwise(x) + bias); x [N, C, H, W] and y contiguous.
  void run(const Shape4& x_shape, const float* x, float* y, const pp_f32_minmax_params& params) const;
  // Output rows [first_row, first_row + rows) of `channel` from its input plane [H, W], into
  // `out`, rows out_stride bytes apart: for operators that consume a depthwise result strip by
  // strip. Not threaded: the caller parallelises over channels.
  void run_rows(const Shape4& x_shape, size_t channel, const float* plane, size_t first_row, size_t rows,
                float* out, size_t out_stride, const pp_f32_minmax_params& params) const;

  size_t channels() const { return channels_; }
  size_t kernel_size() const { return kernel_; }
  size_t stride() const { return stride_; }
  size_t padding() const { return padding_; }
  const pp_f32_dwconv2d_chw_ukernel& ukernel() const { return *ukernel_; }

 private:
  size_t channels_, kernel_, stride_, padding_;
  const pp_f32_dwconv2d_chw_ukernel* ukernel_;
  std::vector<float> weights_;  // channels x (1 + k * k)
};

}  // namespace pyprune
