// NEON f32 row-sum microkernel (contract: ukernels.h): four rows at a time, each in its own q
// accumulator (four independent add chains), the last 1-3 floats of a row loaded one by one
// into a zeroed vector; the four accumulators are folded with pairwise adds into one q of sums.
// Rows left over (fewer than four) go one by one through the same loop.
#include <arm_neon.h>

#include "pyprune/ukernels.h"

namespace {

template <size_t R>
void sum_rows(size_t n, const float* x, size_t x_stride, float* y) {
  const float* row[R];
  float32x4_t acc[R];
  for (size_t r = 0; r < R; r++) {
    row[r] = reinterpret_cast<const float*>(reinterpret_cast<const char*>(x) + r * x_stride);
    acc[r] = vdupq_n_f32(0.0f);
  }
  size_t i = 0;
  for (; i + 4 <= n; i += 4)
    for (size_t r = 0; r < R; r++) acc[r] = vaddq_f32(acc[r], vld1q_f32(row[r] + i));
  if (i < n) {
    for (size_t r = 0; r < R; r++) {
      float32x4_t tail = vdupq_n_f32(0.0f);
      tail = vld1q_lane_f32(row[r] + i, tail, 0);
      if (i + 1 < n) tail = vld1q_lane_f32(row[r] + i + 1, tail, 1);
      if (i + 2 < n) tail = vld1q_lane_f32(row[r] + i + 2, tail, 2);
      acc[r] = vaddq_f32(acc[r], tail);
    }
  }
  if constexpr (R == 4) {
    vst1q_f32(y, vpaddq_f32(vpaddq_f32(acc[0], acc[1]), vpaddq_f32(acc[2], acc[3])));
  } else {
    *y = vaddvq_f32(acc[0]);
  }
}

}  // namespace

extern "C" void pp_f32_rsum_ukernel_c4__neon(size_t n, size_t rows, const float* x, size_t x_stride, float* y) {
  PP_ASSERT(n >= 1 && rows >= 1);
  for (; rows >= 4; rows -= 4, y += 4) {
    sum_rows<4>(n, x, x_stride, y);
    x = reinterpret_cast<const float*>(reinterpret_cast<const char*>(x) + 4 * x_stride);
  }
  for (; rows != 0; rows--, y++) {
    sum_rows<1>(n, x, x_stride, y);
    x = reinterpret_cast<const float*>(reinterpret_cast<const char*>(x) + x_stride);
  }
}
