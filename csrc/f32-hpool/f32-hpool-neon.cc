// NEON f32 row pooling microkernels (contract: ukernels.h): four outputs per iteration. Each
// tap's four columns are combined over the rows, then the taps. Stride 1 loads the taps at
// successive offsets; stride 2 splits inputs into even and odd elements with vld2q and takes
// the third tap as the evens one further on (the combined evens shifted by one lane, the column
// after them combined on its own), so nothing past the window is read. vmaxq propagates NaN. The last 1-3 outputs
// are the last four again (overlapping, so the same values), or one by one in the same order
// when n < 4.
#include <arm_neon.h>

#include "hpool.h"

namespace {

template <pp_hpool_op Op>
float32x4_t combine(float32x4_t acc, float32x4_t v) {
  if constexpr (Op == pp_hpool_max) return vmaxq_f32(acc, v);
  return vaddq_f32(acc, v);
}

// The K taps of outputs o .. o + 3 in row p: tap[j] lane i = p[(o + i) S + j].
template <size_t K, size_t S>
void taps(const float* p, float32x4_t* tap) {
  if constexpr (S == 1) {
    for (size_t j = 0; j < K; j++) tap[j] = vld1q_f32(p + j);
  } else {
    static_assert(S == 2 && (K == 2 || K == 3), "stride 2 takes 2 or 3 taps");
    const float32x4x2_t pairs = vld2q_f32(p);
    tap[0] = pairs.val[0];
    tap[1] = pairs.val[1];
    if constexpr (K == 3) tap[2] = vld1q_dup_f32(p + 8);  // the third tap's last column
  }
}

template <pp_hpool_op Op, size_t K, size_t S>
void hpool_neon(size_t n, size_t rows, const float* x, size_t x_stride, float* y) {
  PP_ASSERT(n >= 1 && rows >= 1);
  auto four = [&](size_t o) {
    float32x4_t column[K], tap[K];
    taps<K, S>(x + o * S, column);
    for (size_t r = 1; r < rows; r++) {
      taps<K, S>(pp_hpool_row(x, x_stride, r) + o * S, tap);
      for (size_t j = 0; j < K; j++) column[j] = combine<Op>(column[j], tap[j]);
    }
    if constexpr (S == 2 && K == 3) column[2] = vextq_f32(column[0], column[2], 1);  // the evens one further on
    float32x4_t acc = column[0];
    for (size_t j = 1; j < K; j++) acc = combine<Op>(acc, column[j]);
    vst1q_f32(y + o, acc);
  };
  size_t o = 0;
  for (; o + 4 <= n; o += 4) four(o);
  if (o < n && n >= 4) {
    four(n - 4);
    return;
  }
  for (; o < n; o++) y[o] = pp_hpool_output<Op, K, S>(rows, x, x_stride, o);
}

}  // namespace

PP_HPOOL_DEFINE(pp_f32_hpool_max_ukernel_3s2__neon, hpool_neon, max, 3, 2)
PP_HPOOL_DEFINE(pp_f32_hpool_max_ukernel_3s1__neon, hpool_neon, max, 3, 1)
PP_HPOOL_DEFINE(pp_f32_hpool_max_ukernel_2s2__neon, hpool_neon, max, 2, 2)
PP_HPOOL_DEFINE(pp_f32_hpool_sum_ukernel_3s2__neon, hpool_neon, sum, 3, 2)
PP_HPOOL_DEFINE(pp_f32_hpool_sum_ukernel_3s1__neon, hpool_neon, sum, 3, 1)
PP_HPOOL_DEFINE(pp_f32_hpool_sum_ukernel_2s2__neon, hpool_neon, sum, 2, 2)
