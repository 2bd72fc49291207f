// The taps of a convolution that some output reads inside its input, for one input size. A
// dilated convolution on features no larger than its dilation (ASPP's dilations 18 to 36 on
// 14x14 features) has taps that read only padding, whose products are all zero: the convolution
// of the live taps alone, its padding shortened by the dropped taps' reach, gives the same
// output at a fraction of the work.
#pragma once

#include <cstddef>
#include <optional>
#include <tuple>
#include <vector>

#include "pyprune/shape.h"

namespace pyprune::graph {

struct LiveTaps {
  size_t first_row, rows, first_col, cols;  // of the kernel

  bool operator<(const LiveTaps& o) const {
    return std::tie(first_row, rows, first_col, cols) < std::tie(o.first_row, o.rows, o.first_col, o.cols);
  }
};

// The live taps of `w` over an input of x's size where they are fewer than the kernel's and
// their convolution keeps every padding non-negative; otherwise nothing.
std::optional<LiveTaps> live_taps(const Window2d& w, const Shape4& x);

// The window of the live taps alone: the same output for the same input.
Window2d live_window(const Window2d& w, const LiveTaps& t);

// The live taps of a weight [filters, channels, kernel_h, kernel_w].
std::vector<float> live_weight(const float* weight, size_t filters, size_t channels, const Window2d& w,
                               const LiveTaps& t);

}  // namespace pyprune::graph
