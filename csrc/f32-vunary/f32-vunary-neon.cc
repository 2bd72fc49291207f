// Activation microkernels, NEON (AArch64): the algorithms of vunary.h on 4-lane vectors.
#include <arm_neon.h>

#include <cstring>

#include "vunary.h"

namespace {

struct Neon {
  using V = float32x4_t;
  using M = uint32x4_t;
  static constexpr size_t kLanes = 4;

  static V splat(float v) { return vdupq_n_f32(v); }
  static V load(const float* p) { return vld1q_f32(p); }
  static void store(float* p, V v) { vst1q_f32(p, v); }
  // The first n (1..3) lanes, through a copy: nothing past them is read or written.
  static V load_partial(const float* p, size_t n) {
    float lanes[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    std::memcpy(lanes, p, n * sizeof(float));
    return vld1q_f32(lanes);
  }
  static void store_partial(float* p, size_t n, V v) {
    float lanes[4];
    vst1q_f32(lanes, v);
    std::memcpy(p, lanes, n * sizeof(float));
  }

  static V add(V a, V b) { return vaddq_f32(a, b); }
  static V first_lanes(size_t n, V v) {  // zeros past n
    static const uint32_t table[8] = {~0u, ~0u, ~0u, ~0u, 0, 0, 0, 0};
    return vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(v), vld1q_u32(table + 4 - n)));
  }
  static float sum_lanes(V v) { return vaddvq_f32(v); }
  static V sub(V a, V b) { return vsubq_f32(a, b); }
  static V mul(V a, V b) { return vmulq_f32(a, b); }
  static V div(V a, V b) { return vdivq_f32(a, b); }
  static V fma(V a, V b, V c) { return vfmaq_f32(c, a, b); }   // a b + c
  static V fnma(V a, V b, V c) { return vfmsq_f32(c, a, b); }  // c - a b
  static V neg(V a) { return vnegq_f32(a); }
  static V abs(V a) { return vabsq_f32(a); }
  // FMAX / FMIN return NaN when either operand is NaN.
  static V max_nan(V bound, V x) { return vmaxq_f32(bound, x); }
  static V min_nan(V bound, V x) { return vminq_f32(bound, x); }
  static M gt(V a, V b) { return vcgtq_f32(a, b); }  // false for NaN
  static M ge(V a, V b) { return vcgeq_f32(a, b); }
  static M le(V a, V b) { return vcleq_f32(a, b); }
  static V select(M m, V a, V b) { return vbslq_f32(m, a, b); }
  static V zero_where(M m, V v) { return vreinterpretq_f32_u32(vbicq_u32(vreinterpretq_u32_f32(v), m)); }
  static V copysign(V y, V x) { return vbslq_f32(vdupq_n_u32(0x80000000u), x, y); }
  // 2^n from a magic-biased n (its low bits n + 127), see vunary.h.
  static V pow2(V biased) { return vreinterpretq_f32_s32(vshlq_n_s32(vreinterpretq_s32_f32(biased), 23)); }
  // x = m 2^k, m in [sqrt(1/2), sqrt(2)), for a normal x > 0: m, and k as a float (x's bits less
  // sqrt(1/2)'s split the exponent there instead of at 1).
  static V split_log2(V x, V& k) {
    const int32x4_t sqrt_half = vdupq_n_s32(0x3f3504f3);
    const int32x4_t i = vsubq_s32(vreinterpretq_s32_f32(x), sqrt_half);
    k = vcvtq_f32_s32(vshrq_n_s32(i, 23));
    return vreinterpretq_f32_s32(vaddq_s32(vandq_s32(i, vdupq_n_s32(0x7fffff)), sqrt_half));
  }
};

}  // namespace

PP_F32_VUNARY_UKERNELS(Neon, neon, 16, 16, 4)
