// NEON f32 row extreme microkernels (contract: ukernels.h): four q accumulators folded with FMAX
// / FMIN, which return NaN when either operand is NaN, so NaN needs no tracking of its own; the
// last n % 16 floats as whole vectors, then the row's last vector again (an extreme does not
// mind values seen twice); rows shorter than a vector go to the reference kernel. FMAXV /
// FMINV fold the lanes, NaN kept.
#include <arm_neon.h>

#include "pyprune/ukernels.h"
#include "pyprune/unroll.h"

namespace {

template <bool kMax>
PP_INLINE float32x4_t fold(float32x4_t a, float32x4_t b) {
  return kMax ? vmaxq_f32(a, b) : vminq_f32(a, b);
}

template <bool kMax>
float extreme(size_t n, const float* x) {
  PP_ASSERT(n >= 1);
  if (n < 4) return kMax ? pp_f32_rmax_ukernel__ref(n, x) : pp_f32_rmin_ukernel__ref(n, x);
  const float* const last = x + n - 4;
  float32x4_t a0 = vld1q_f32(x), a1 = a0, a2 = a0, a3 = a0;
  for (; n >= 16; n -= 16, x += 16) {
    const float32x4x4_t v = vld1q_f32_x4(x);
    a0 = fold<kMax>(a0, v.val[0]);
    a1 = fold<kMax>(a1, v.val[1]);
    a2 = fold<kMax>(a2, v.val[2]);
    a3 = fold<kMax>(a3, v.val[3]);
  }
  for (; n >= 4; n -= 4, x += 4) a0 = fold<kMax>(a0, vld1q_f32(x));
  if (n != 0) a0 = fold<kMax>(a0, vld1q_f32(last));
  const float32x4_t all = fold<kMax>(fold<kMax>(a0, a1), fold<kMax>(a2, a3));
  return kMax ? vmaxvq_f32(all) : vminvq_f32(all);
}

}  // namespace

extern "C" float pp_f32_rmax_ukernel_x16__neon(size_t n, const float* x) { return extreme<true>(n, x); }
extern "C" float pp_f32_rmin_ukernel_x16__neon(size_t n, const float* x) { return extreme<false>(n, x); }
