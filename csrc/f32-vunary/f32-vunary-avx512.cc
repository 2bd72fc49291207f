// Activation microkernels, AVX-512F: the algorithms of vunary.h on 16-lane vectors, comparisons
// into mask registers.
#include <immintrin.h>

#include "vunary.h"

namespace {

struct Avx512 {
  using V = __m512;
  using M = __mmask16;
  static constexpr size_t kLanes = 16;

  static V splat(float v) { return _mm512_set1_ps(v); }
  static V load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, V v) { _mm512_storeu_ps(p, v); }
  // The first n (1..15) lanes; the others are neither read nor written.
  static M mask(size_t n) { return static_cast<M>((1u << n) - 1u); }
  static V load_partial(const float* p, size_t n) { return _mm512_maskz_loadu_ps(mask(n), p); }
  static void store_partial(float* p, size_t n, V v) { _mm512_mask_storeu_ps(p, mask(n), v); }

  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static V first_lanes(size_t n, V v) { return _mm512_maskz_mov_ps(mask(n), v); }  // zeros past n
  static float sum_lanes(V v) { return _mm512_reduce_add_ps(v); }
  static V sub(V a, V b) { return _mm512_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static V div(V a, V b) { return _mm512_div_ps(a, b); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }    // a b + c
  static V fnma(V a, V b, V c) { return _mm512_fnmadd_ps(a, b, c); }  // c - a b
  static V neg(V a) { return _mm512_xor_ps(a, _mm512_set1_ps(-0.0f)); }
  static V abs(V a) { return _mm512_abs_ps(a); }
  // vmaxps / vminps return their second operand when either is NaN: x's NaN stays.
  static V max_nan(V bound, V x) { return _mm512_max_ps(bound, x); }
  static V min_nan(V bound, V x) { return _mm512_min_ps(bound, x); }
  // Ordered comparisons: false for NaN.
  static M gt(V a, V b) { return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }
  static M ge(V a, V b) { return _mm512_cmp_ps_mask(a, b, _CMP_GE_OQ); }
  static M le(V a, V b) { return _mm512_cmp_ps_mask(a, b, _CMP_LE_OQ); }
  static V select(M m, V a, V b) { return _mm512_mask_blend_ps(m, b, a); }
  static V zero_where(M m, V v) { return _mm512_maskz_mov_ps(static_cast<M>(~m), v); }
  // y >= 0 (or NaN) with x's sign.
  static V copysign(V y, V x) { return _mm512_or_ps(y, _mm512_and_ps(x, _mm512_set1_ps(-0.0f))); }
  // 2^n from a magic-biased n (its low bits n + 127), see vunary.h.
  static V pow2(V biased) { return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_castps_si512(biased), 23)); }
  // x = m 2^k, m in [sqrt(1/2), sqrt(2)), for a normal x > 0: m, and k as a float (x's bits less
  // sqrt(1/2)'s split the exponent there instead of at 1).
  static V split_log2(V x, V& k) {
    const __m512i sqrt_half = _mm512_set1_epi32(0x3f3504f3);
    const __m512i i = _mm512_sub_epi32(_mm512_castps_si512(x), sqrt_half);
    k = _mm512_cvtepi32_ps(_mm512_srai_epi32(i, 23));
    return _mm512_castsi512_ps(_mm512_add_epi32(_mm512_and_si512(i, _mm512_set1_epi32(0x7fffff)), sqrt_half));
  }
};

}  // namespace

PP_F32_VUNARY_UKERNELS(Avx512, avx512, 64, 64, 32)
