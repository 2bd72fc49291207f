// NEON f32 horizontal pooling microkernels (contract: ukernels.h): four outputs per iteration.
// Stride 1 loads the taps at successive offsets; stride 2 splits inputs into even and odd
// elements with vld2q and takes the third tap as the evens two inputs further on. vmaxq
// propagates NaN. The last 1-3 outputs are computed one by one in the same order.
#include <arm_neon.h>

#include "hpool.h"

namespace {

template <pp_hpool_op Op>
float32x4_t combine(float32x4_t acc, float32x4_t v) {
  if constexpr (Op == pp_hpool_max) return vmaxq_f32(acc, v);
  return vaddq_f32(acc, v);
}

template <pp_hpool_op Op, size_t K, size_t S>
void hpool_neon(size_t n, const float* x, float* y) {
  PP_ASSERT(n >= 1);
  size_t o = 0;
  for (; o + 4 <= n; o += 4) {
    const float* p = x + o * S;
    float32x4_t acc;
    if constexpr (S == 1) {
      acc = vld1q_f32(p);
      for (size_t j = 1; j < K; j++) acc = combine<Op>(acc, vld1q_f32(p + j));
    } else {
      static_assert(S == 2 && (K == 2 || K == 3), "stride 2 takes 2 or 3 taps");
      const float32x4x2_t pairs = vld2q_f32(p);
      acc = combine<Op>(pairs.val[0], pairs.val[1]);
      if constexpr (K == 3) acc = combine<Op>(acc, vld2q_f32(p + 2).val[0]);
    }
    vst1q_f32(y + o, acc);
  }
  for (; o < n; o++) y[o] = pp_hpool_output<Op, K, S>(x, o);
}

}  // namespace

PP_HPOOL_DEFINE(pp_f32_hpool_max_ukernel_3s2__neon, hpool_neon, max, 3, 2)
PP_HPOOL_DEFINE(pp_f32_hpool_max_ukernel_3s1__neon, hpool_neon, max, 3, 1)
PP_HPOOL_DEFINE(pp_f32_hpool_max_ukernel_2s2__neon, hpool_neon, max, 2, 2)
PP_HPOOL_DEFINE(pp_f32_hpool_sum_ukernel_3s2__neon, hpool_neon, sum, 3, 2)
PP_HPOOL_DEFINE(pp_f32_hpool_sum_ukernel_3s1__neon, hpool_neon, sum, 3, 1)
PP_HPOOL_DEFINE(pp_f32_hpool_sum_ukernel_2s2__neon, hpool_neon, sum, 2, 2)
