// NEON f32 elementwise binary microkernels (contract: ukernels.h): 16 floats per iteration in
// four q registers, then four at a time, then the last 1-3 one by one (nothing is read or
// written past n).
#include <arm_neon.h>

#include "vbinary.h"

namespace {

template <pp_vbinary_op Op, bool ScalarB>
void vbinary_neon(size_t n, const float* a, const float* b, float* y, const pp_f32_minmax_params* params) {
  PP_ASSERT(n >= 1);
  const float32x4_t lo = vdupq_n_f32(params->min), hi = vdupq_n_f32(params->max);
  const float32x4_t b0 = vld1q_dup_f32(b);
  // vmaxq/vminq return NaN when either operand is NaN: NaN stays.
  auto out = [&](float32x4_t va, float32x4_t vb) { return vminq_f32(vmaxq_f32(pp_vbinary_apply<Op>(va, vb), lo), hi); };
  for (; n >= 16; n -= 16, a += 16, y += 16) {
    const float32x4_t v0 = out(vld1q_f32(a), ScalarB ? b0 : vld1q_f32(b));
    const float32x4_t v1 = out(vld1q_f32(a + 4), ScalarB ? b0 : vld1q_f32(b + 4));
    const float32x4_t v2 = out(vld1q_f32(a + 8), ScalarB ? b0 : vld1q_f32(b + 8));
    const float32x4_t v3 = out(vld1q_f32(a + 12), ScalarB ? b0 : vld1q_f32(b + 12));
    vst1q_f32(y, v0);
    vst1q_f32(y + 4, v1);
    vst1q_f32(y + 8, v2);
    vst1q_f32(y + 12, v3);
    if (!ScalarB) b += 16;
  }
  for (; n >= 4; n -= 4, a += 4, y += 4) {
    vst1q_f32(y, out(vld1q_f32(a), ScalarB ? b0 : vld1q_f32(b)));
    if (!ScalarB) b += 4;
  }
  for (; n != 0; n--, a++, y++) {
    vst1q_lane_f32(y, out(vld1q_dup_f32(a), ScalarB ? b0 : vld1q_dup_f32(b)), 0);
    if (!ScalarB) b++;
  }
}

}  // namespace

PP_VBINARY_DEFINE(pp_f32_vadd_minmax_ukernel__neon_u16, vbinary_neon, add, false)
PP_VBINARY_DEFINE(pp_f32_vaddc_minmax_ukernel__neon_u16, vbinary_neon, add, true)
PP_VBINARY_DEFINE(pp_f32_vsub_minmax_ukernel__neon_u16, vbinary_neon, sub, false)
PP_VBINARY_DEFINE(pp_f32_vsubc_minmax_ukernel__neon_u16, vbinary_neon, sub, true)
PP_VBINARY_DEFINE(pp_f32_vrsubc_minmax_ukernel__neon_u16, vbinary_neon, rsub, true)
PP_VBINARY_DEFINE(pp_f32_vmul_minmax_ukernel__neon_u16, vbinary_neon, mul, false)
PP_VBINARY_DEFINE(pp_f32_vmulc_minmax_ukernel__neon_u16, vbinary_neon, mul, true)
PP_VBINARY_DEFINE(pp_f32_vdiv_minmax_ukernel__neon_u16, vbinary_neon, div, false)
PP_VBINARY_DEFINE(pp_f32_vdivc_minmax_ukernel__neon_u16, vbinary_neon, div, true)
PP_VBINARY_DEFINE(pp_f32_vrdivc_minmax_ukernel__neon_u16, vbinary_neon, rdiv, true)
PP_VBINARY_DEFINE(pp_f32_vmax_minmax_ukernel__neon_u16, vbinary_neon, max, false)
PP_VBINARY_DEFINE(pp_f32_vmaxc_minmax_ukernel__neon_u16, vbinary_neon, max, true)
PP_VBINARY_DEFINE(pp_f32_vmin_minmax_ukernel__neon_u16, vbinary_neon, min, false)
PP_VBINARY_DEFINE(pp_f32_vminc_minmax_ukernel__neon_u16, vbinary_neon, min, true)
