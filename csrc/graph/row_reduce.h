// Reductions of contiguous rows. Sums run on the row-sum microkernel (f32-rsum), rows longer
// than kSumBlock floats in blocks added in double, so long rows keep float accuracy; max and min
// on the row extreme microkernel (f32-rminmax); products on independent accumulators, combined
// at the end. All propagate NaN like torch.
#pragma once

#include <algorithm>
#include <cstddef>
#include <limits>
#include <type_traits>

#include "pyprune/dispatch.h"

namespace pyprune::graph {

constexpr size_t kSumBlock = 2048;

// kRow: the elementwise kernel (f32-vbinary) that folds a row into a row of accumulators.
struct MaxOf {
  static constexpr pp_vbinary_op kRow = pp_vbinary_max;
  static float combine(float acc, float v) {
    const float m = v > acc ? v : acc;  // MAXSS: no branch on the data (a mispredicted one per value)
    return v != v ? v : m;
  }
};
struct MinOf {
  static constexpr pp_vbinary_op kRow = pp_vbinary_min;
  static float combine(float acc, float v) {
    const float m = v < acc ? v : acc;
    return v != v ? v : m;
  }
};
struct ProductOf {
  static constexpr pp_vbinary_op kRow = pp_vbinary_mul;
  static float combine(float acc, float v) { return acc * v; }
};
struct SumOf {
  static constexpr pp_vbinary_op kRow = pp_vbinary_add;
  template <class Acc>
  static Acc combine(Acc acc, float v) { return acc + v; }
};

// acc[0..n) = Op(acc, x[0..n)) elementwise, on Op's elementwise kernel (f32-vbinary, unclamped);
// or out[0..n) = Op(a, b).
template <class Op>
class RowFold {
 public:
  void operator()(size_t n, float* acc, const float* x) const { kernel_.fn(n, acc, x, acc, &kPpUnclamped); }
  void operator()(size_t n, const float* a, const float* b, float* out) const { kernel_.fn(n, a, b, out, &kPpUnclamped); }

 private:
  const pp_f32_vbinary_ukernel& kernel_ = pp_f32_vbinary_config(Op::kRow, false);
};

// Rows from this length take the extreme microkernels (f32-rminmax); shorter ones (pooling
// windows) are folded inline, where a call would cost more than the folding.
constexpr size_t kExtremeKernelFrom = 16;

// Op over x[0..n) starting from acc; n may be 0. max and min of long rows run on the ISA's row
// extreme microkernel; sums and products on eight scalar lanes.
template <class Op>
float reduce_row(const float* x, size_t n, float acc) {
  if constexpr (std::is_same_v<Op, MaxOf> || std::is_same_v<Op, MinOf>) {
    if (n >= kExtremeKernelFrom) {
      static const pp_f32_rminmax_ukernel& kernel =
          pp_f32_rminmax_config(std::is_same_v<Op, MaxOf> ? pp_rminmax_max : pp_rminmax_min);
      return Op::combine(acc, kernel.fn(n, x));
    }
    for (size_t i = 0; i < n; i++) acc = Op::combine(acc, x[i]);
    return acc;
  } else {
    size_t i = 0;
    float lanes[8] = {acc, acc, acc, acc, acc, acc, acc, acc};
    for (; i + 8 <= n; i += 8)
      for (size_t l = 0; l < 8; l++) lanes[l] = Op::combine(lanes[l], x[i + l]);
    for (size_t l = 0; i < n; i++, l++) lanes[l] = Op::combine(lanes[l], x[i]);
    return Op::combine(Op::combine(Op::combine(lanes[0], lanes[1]), Op::combine(lanes[2], lanes[3])),
                       Op::combine(Op::combine(lanes[4], lanes[5]), Op::combine(lanes[6], lanes[7])));
  }
}

// The sum of x[0..n); n may be 0.
inline double sum_row(const float* x, size_t n) {
  const pp_f32_rsum_ukernel& kernel = pp_f32_rsum_config();
  double total = 0.0;
  for (size_t b = 0; b < n; b += kSumBlock) {
    float block;
    kernel.fn(std::min(kSumBlock, n - b), 1, x + b, 0, &block);
    total += block;
  }
  return total;
}

// y[r] = the sum of the n floats at x + r * stride, for r < rows.
inline void sum_rows(const float* x, size_t rows, size_t n, size_t stride, float* y) {
  if (n == 0 || n > kSumBlock) {
    for (size_t r = 0; r < rows; r++) y[r] = static_cast<float>(sum_row(x + r * stride, n));
    return;
  }
  if (rows != 0) pp_f32_rsum_config().fn(n, rows, x, stride * sizeof(float), y);
}

}  // namespace pyprune::graph
