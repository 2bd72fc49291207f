// Depthwise convolution (NCHW): through the f32-dwconv2d-chw kernels, whole planes straight
// from the input where a "same"-padding kernel takes the window, else one channel plane at a
// time through padded strips; any other window (dilated, rectangular, other strides or kernel
// sizes) on the f32-dwconv2d-taps kernel. Python-free.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "pyprune/activation.h"
#include "pyprune/dispatch.h"
#include "pyprune/shape.h"

namespace pyprune {

// The production kernel a DepthwiseConv2d of this window runs (run()) on inputs `width` columns
// wide: the "same"-padding one where it takes the window and the width, else the strip one;
// width 0 names both where the choice depends on it. "?" when none takes the window.
std::string depthwise_ukernel_name(const Window2d& window, size_t width = 0);

// A depthwise convolution with its weights laid out for the kernels: per channel its bias,
// then its k * k taps. Padding may differ per side (each at most the case's max_padding).
class DepthwiseConv2d {
 public:
  // weight [channels, 1, kernel_h, kernel_w] (row-major), bias [channels] or nullptr (zeros).
  // `ukernel` or `same` (at most one) forces a strip or a "same"-padding kernel; neither picks
  // the production kernels. std::invalid_argument for a window no convolution takes, or a
  // forced kernel that does not take it.
  DepthwiseConv2d(size_t channels, const Window2d& window, const float* weight, const float* bias,
                  const pp_f32_dwconv2d_chw_ukernel* ukernel = nullptr,
                  const pp_f32_dwconv2d_chw_same_ukernel* same = nullptr);

  // The output shape for input `x`; std::invalid_argument naming x if it does not fit.
  Shape4 output_shape(const Shape4& x) const;
  // y = epilogue(depthwise(x) + bias); x [N, C, H, W] and y contiguous, the residual (if any)
  // laid out like y.
  void run(const Shape4& x_shape, const float* x, float* y, const Epilogue& epilogue) const;
  // Output rows [first_row, first_row + rows) of `channel` from its input plane [H, W], into
  // `out`, rows out_stride bytes apart, then `activation`: for operators that consume a
  // depthwise result strip by strip. Not threaded: the caller parallelises over channels.
  void run_rows(const Shape4& x_shape, size_t channel, const float* plane, size_t first_row, size_t rows,
                float* out, size_t out_stride, const Activation& activation) const;

  size_t channels() const { return channels_; }
  const Window2d& window() const { return window_; }
  // Whether a strip kernel takes the window (run_rows needs one).
  bool has_strips() const { return ukernel_ != nullptr; }
  // The strip kernel (run_rows, and run() without a "same"-padding kernel); has_strips() first.
  const pp_f32_dwconv2d_chw_ukernel& ukernel() const { return *ukernel_; }
  // The kernel run() runs on inputs `width` columns wide (0: named for every width).
  std::string ukernel_name(size_t width = 0) const;

 private:
  bool runs_same(size_t width) const;
  void run_same(const Shape4& x_shape, const float* x, float* y, const Epilogue& epilogue) const;

  size_t channels_;
  Window2d window_;
  const pp_f32_dwconv2d_chw_ukernel* ukernel_;
  const pp_f32_dwconv2d_chw_same_ukernel* same_;  // nullptr: strips
  const pp_f32_dwconv2d_taps_ukernel* taps_;      // the windows no strip kernel takes; nullptr otherwise
  size_t same_max_width_;  // wider inputs run the strips (0: none; a forced same_ runs every width)
  std::vector<float> weights_;  // channels x (1 + k * k)
};

}  // namespace pyprune
