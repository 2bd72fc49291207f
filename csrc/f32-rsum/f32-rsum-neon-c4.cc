// NEON f32 row-sum microkernel (contract: ukernels.h): four rows at a time, each in its own q
// accumulator. A row is read 16 floats per LD1 of four q registers, added as a tree of three
// adds into the accumulator (four adds per 16 floats: the fewest), then 8 and 4 at a time; the
// four accumulators are folded with pairwise adds into one q of the four rows' sums, and the
// rows' last 1-3 floats are added to it a column at a time (one lane per row). Rows left over
// (fewer than four) go one by one through the same loop, their last floats added in scalar.
#include <arm_neon.h>

#include "pyprune/ukernels.h"
#include "pyprune/unroll.h"

namespace {

template <size_t R>
PP_INLINE void sum_rows(size_t n, const float* x, size_t x_stride, float* y) {
  const float* row[R];
  float32x4_t acc[R];
  for (size_t r = 0; r < R; r++) {
    row[r] = reinterpret_cast<const float*>(reinterpret_cast<const char*>(x) + r * x_stride);
    acc[r] = vdupq_n_f32(0.0f);
  }
  size_t i = n;
  for (; i >= 16; i -= 16)
    for (size_t r = 0; r < R; r++) {
      const float32x4x4_t v = vld1q_f32_x4(row[r]);
      row[r] += 16;
      PP_OPAQUE(row[r]);
      acc[r] = vaddq_f32(acc[r], vaddq_f32(vaddq_f32(v.val[0], v.val[1]), vaddq_f32(v.val[2], v.val[3])));
    }
  if (i >= 8) {
    for (size_t r = 0; r < R; r++) {
      const float32x4x2_t v = vld1q_f32_x2(row[r]);
      row[r] += 8;
      acc[r] = vaddq_f32(acc[r], vaddq_f32(v.val[0], v.val[1]));
    }
    i -= 8;
  }
  if (i >= 4) {
    for (size_t r = 0; r < R; r++) {
      acc[r] = vaddq_f32(acc[r], vld1q_f32(row[r]));
      row[r] += 4;
    }
    i -= 4;
  }
  if constexpr (R == 4) {
    float32x4_t sums = vpaddq_f32(vpaddq_f32(acc[0], acc[1]), vpaddq_f32(acc[2], acc[3]));
    for (size_t j = 0; j < i; j++) {
      float32x4_t column = vld1q_dup_f32(row[0] + j);
      column = vld1q_lane_f32(row[1] + j, column, 1);
      column = vld1q_lane_f32(row[2] + j, column, 2);
      column = vld1q_lane_f32(row[3] + j, column, 3);
      sums = vaddq_f32(sums, column);
    }
    vst1q_f32(y, sums);
  } else {
    float sum = vaddvq_f32(acc[0]);
    for (size_t j = 0; j < i; j++) sum += row[0][j];
    *y = sum;
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
