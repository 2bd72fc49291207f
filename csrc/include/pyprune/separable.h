// Fused depthwise-separable convolution: depthwise -> activation -> pointwise -> epilogue,
// computed strip by strip so the depthwise result stays in cache. Python-free.
#pragma once

#include <string>

#include "pyprune/activation.h"
#include "pyprune/conv2d.h"
#include "pyprune/depthwise.h"

namespace pyprune {

class SeparableConv2d {
 public:
  // `pointwise` must be 1x1, stride 1, padding 0, groups 1, with depthwise.channels() inputs;
  // std::invalid_argument naming pw_weight otherwise. `depthwise_activation` is any activation.
  SeparableConv2d(DepthwiseConv2d depthwise, const Activation& depthwise_activation, Conv2d pointwise);

  Shape4 output_shape(const Shape4& x) const;
  // y = epilogue(pointwise(depthwise_activation(depthwise(x))))
  void run(const Shape4& x_shape, const float* x, float* y, const Epilogue& epilogue) const;
  // The kernels it runs: the depthwise strip kernel (run_rows), then the GEMM.
  std::string ukernel_name() const {
    return std::string(depthwise_.ukernel().name) + " + " + pointwise_.ukernel_name();
  }

 private:
  DepthwiseConv2d depthwise_;
  Activation depthwise_activation_;
  Conv2d pointwise_;
};

}  // namespace pyprune
