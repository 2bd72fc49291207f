// Grouped 3x3 stride-1 convolution (NCHW) by Winograd, group by group. Python-free.
#pragma once

#include <array>
#include <cstddef>
#include <vector>

#include "pyprune/activation.h"
#include "pyprune/shape.h"
#include "pyprune/winograd_conv2d.h"

namespace pyprune {

// In NCHW, group g of an image (its input channels [g Cin/G, (g + 1) Cin/G) and its output
// channels likewise) is itself a contiguous image of Cin/G channels: each group runs the dense
// driver (WinogradConv2d) with its own transformed weights. ResNeXt's and RegNet's grouped 3x3
// layers with 8 or more channels per group gain as dense ones do.
class GroupedWinogradConv2d {
 public:
  // weight [out_channels, in_channels / groups, 3, 3], bias [out_channels] or nullptr; padding
  // and dilation as WinogradConv2d's. std::invalid_argument naming the argument it does not take.
  GroupedWinogradConv2d(size_t out_channels, size_t in_channels, size_t groups, const std::array<size_t, 4>& padding,
                        const float* weight, const float* bias, const std::array<size_t, 2>& dilation = {1, 1});

  Shape4 output_shape(const Shape4& x) const;
  // y = activation(conv(x) + bias + residual); x, y and the residual contiguous. Results do
  // not depend on the number of threads.
  void run(const Shape4& x_shape, const float* x, float* y, const Epilogue& epilogue) const;

  size_t groups() const { return groups_.size(); }
  const WinogradConv2d& group(size_t g) const { return groups_[g]; }

 private:
  size_t in_channels_, out_channels_;
  std::vector<WinogradConv2d> groups_;
};

}  // namespace pyprune
