// Fused depthwise-separable convolution: depthwise -> clamp -> pointwise -> clamp, computed
// strip by strip so the depthwise result stays in cache. Python-free.
#pragma once

#include "pyprune/conv2d.h"
#include "pyprune/depthwise.h"

namespace pyprune {

class SeparableConv2d {
 public:
  // `pointwise` must be 1x1, stride 1, padding 0, groups 1, with depthwise.channels() inputs;
  // std::invalid_argument naming pw_weight otherwise.
  SeparableConv2d(DepthwiseConv2d depthwise, const pp_f32_minmax_params& depthwise_params, Conv2d pointwise);

  Shape4 output_shape(const Shape4& x) const;
  void run(const Shape4& x_shape, const float* x, float* y, const pp_f32_minmax_params& params) const;

 private:
  DepthwiseConv2d depthwise_;
  pp_f32_minmax_params depthwise_params_;
  Conv2d pointwise_;
};

}  // namespace pyprune
