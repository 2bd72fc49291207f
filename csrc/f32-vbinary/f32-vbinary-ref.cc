// Reference f32 elementwise binary microkernels: the obvious loop (contract: ukernels.h).
#include "vbinary.h"

namespace {

template <pp_vbinary_op Op, bool ScalarB>
void vbinary_ref(size_t n, const float* a, const float* b, float* y, const pp_f32_minmax_params* params) {
  PP_ASSERT(n >= 1);
  for (size_t i = 0; i < n; i++) {
    float v = pp_vbinary_apply<Op>(a[i], ScalarB ? b[0] : b[i]);
    v = v < params->min ? params->min : v;  // comparisons with NaN are false: NaN stays
    v = v > params->max ? params->max : v;
    y[i] = v;
  }
}

}  // namespace

PP_VBINARY_DEFINE(pp_f32_vadd_minmax_ukernel__ref, vbinary_ref, add, false)
PP_VBINARY_DEFINE(pp_f32_vaddc_minmax_ukernel__ref, vbinary_ref, add, true)
PP_VBINARY_DEFINE(pp_f32_vsub_minmax_ukernel__ref, vbinary_ref, sub, false)
PP_VBINARY_DEFINE(pp_f32_vsubc_minmax_ukernel__ref, vbinary_ref, sub, true)
PP_VBINARY_DEFINE(pp_f32_vrsubc_minmax_ukernel__ref, vbinary_ref, rsub, true)
PP_VBINARY_DEFINE(pp_f32_vmul_minmax_ukernel__ref, vbinary_ref, mul, false)
PP_VBINARY_DEFINE(pp_f32_vmulc_minmax_ukernel__ref, vbinary_ref, mul, true)
PP_VBINARY_DEFINE(pp_f32_vdiv_minmax_ukernel__ref, vbinary_ref, div, false)
PP_VBINARY_DEFINE(pp_f32_vdivc_minmax_ukernel__ref, vbinary_ref, div, true)
PP_VBINARY_DEFINE(pp_f32_vrdivc_minmax_ukernel__ref, vbinary_ref, rdiv, true)
PP_VBINARY_DEFINE(pp_f32_vmax_minmax_ukernel__ref, vbinary_ref, max, false)
PP_VBINARY_DEFINE(pp_f32_vmaxc_minmax_ukernel__ref, vbinary_ref, max, true)
PP_VBINARY_DEFINE(pp_f32_vmin_minmax_ukernel__ref, vbinary_ref, min, false)
PP_VBINARY_DEFINE(pp_f32_vminc_minmax_ukernel__ref, vbinary_ref, min, true)
