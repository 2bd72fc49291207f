// Softmax of a contiguous row, as torch computes it: the row's maximum subtracted first, the
// exponentials and their sum on the vexpsum microkernel, then one scaling. The softmax
// operator's last-axis rows and attention's scores (which take the exponentials alone).
#pragma once

#include <cstddef>
#include <limits>

#include "pyprune/dispatch.h"
#include "row_reduce.h"

namespace pyprune::graph {

class SoftmaxRow {
 public:
  void operator()(const float* x, float* y, size_t n) const {
    const float scale = 1.0f / exponentials(x, y, n);
    scale_.fn(n, y, &scale, y, &kPpUnclamped);
  }

  // y = exp(x - max(x)), unscaled; returns their sum (a caller that scales later: attention).
  float exponentials(const float* x, float* y, size_t n) const {
    const float max = reduce_row<MaxOf>(x, n, -std::numeric_limits<float>::infinity());
    return exp_sum_.fn(n, x, max, y);
  }

 private:
  const pp_f32_vexpsum_ukernel& exp_sum_ = pp_f32_vexpsum_config();
  const pp_f32_vbinary_ukernel& scale_ = pp_f32_vbinary_config(pp_vbinary_mul, true);
};

}  // namespace pyprune::graph
