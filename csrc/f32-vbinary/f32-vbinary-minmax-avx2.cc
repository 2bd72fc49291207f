// AVX2 f32 elementwise binary microkernels (contract: ukernels.h): 16 floats per iteration in
// two ymm registers, then one, then the last 1-7 through masked loads and stores (nothing is
// read or written past n).
#include <immintrin.h>

#include <cstdint>

#include "vbinary.h"

namespace {

// Lanes [8 - n, 16 - n) of this table enable the first n lanes of a vector.
alignas(32) const int32_t kMask[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

template <pp_vbinary_op Op, bool ScalarB>
void vbinary_avx2(size_t n, const float* a, const float* b, float* y, const pp_f32_minmax_params* params) {
  PP_ASSERT(n >= 1);
  const __m256 lo = _mm256_set1_ps(params->min), hi = _mm256_set1_ps(params->max);
  const __m256 b0 = _mm256_broadcast_ss(b);
  // max(lo, v) then min(hi, v): the second operand is returned for NaN, so NaN stays.
  auto out = [&](__m256 va, __m256 vb) { return _mm256_min_ps(hi, _mm256_max_ps(lo, pp_vbinary_apply<Op>(va, vb))); };
  for (; n >= 16; n -= 16, a += 16, y += 16) {
    const __m256 v0 = out(_mm256_loadu_ps(a), ScalarB ? b0 : _mm256_loadu_ps(b));
    const __m256 v1 = out(_mm256_loadu_ps(a + 8), ScalarB ? b0 : _mm256_loadu_ps(b + 8));
    _mm256_storeu_ps(y, v0);
    _mm256_storeu_ps(y + 8, v1);
    if (!ScalarB) b += 16;
  }
  if (n >= 8) {
    _mm256_storeu_ps(y, out(_mm256_loadu_ps(a), ScalarB ? b0 : _mm256_loadu_ps(b)));
    n -= 8, a += 8, y += 8;
    if (!ScalarB) b += 8;
  }
  if (n != 0) {
    const __m256i mask = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kMask + 8 - n));
    _mm256_maskstore_ps(y, mask, out(_mm256_maskload_ps(a, mask), ScalarB ? b0 : _mm256_maskload_ps(b, mask)));
  }
}

}  // namespace

PP_VBINARY_DEFINE(pp_f32_vadd_minmax_ukernel__avx2_u16, vbinary_avx2, add, false)
PP_VBINARY_DEFINE(pp_f32_vaddc_minmax_ukernel__avx2_u16, vbinary_avx2, add, true)
PP_VBINARY_DEFINE(pp_f32_vsub_minmax_ukernel__avx2_u16, vbinary_avx2, sub, false)
PP_VBINARY_DEFINE(pp_f32_vsubc_minmax_ukernel__avx2_u16, vbinary_avx2, sub, true)
PP_VBINARY_DEFINE(pp_f32_vrsubc_minmax_ukernel__avx2_u16, vbinary_avx2, rsub, true)
PP_VBINARY_DEFINE(pp_f32_vmul_minmax_ukernel__avx2_u16, vbinary_avx2, mul, false)
PP_VBINARY_DEFINE(pp_f32_vmulc_minmax_ukernel__avx2_u16, vbinary_avx2, mul, true)
PP_VBINARY_DEFINE(pp_f32_vdiv_minmax_ukernel__avx2_u16, vbinary_avx2, div, false)
PP_VBINARY_DEFINE(pp_f32_vdivc_minmax_ukernel__avx2_u16, vbinary_avx2, div, true)
PP_VBINARY_DEFINE(pp_f32_vrdivc_minmax_ukernel__avx2_u16, vbinary_avx2, rdiv, true)
PP_VBINARY_DEFINE(pp_f32_vmax_minmax_ukernel__avx2_u16, vbinary_avx2, max, false)
PP_VBINARY_DEFINE(pp_f32_vmaxc_minmax_ukernel__avx2_u16, vbinary_avx2, max, true)
PP_VBINARY_DEFINE(pp_f32_vmin_minmax_ukernel__avx2_u16, vbinary_avx2, min, false)
PP_VBINARY_DEFINE(pp_f32_vminc_minmax_ukernel__avx2_u16, vbinary_avx2, min, true)
