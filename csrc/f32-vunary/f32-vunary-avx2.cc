// Activation microkernels, AVX2+FMA: the algorithms of vunary.h on 8-lane vectors.
#include <immintrin.h>

#include <cstdint>

#include "vunary.h"

namespace {

struct Avx2 {
  using V = __m256;
  using M = __m256;
  static constexpr size_t kLanes = 8;

  static V splat(float v) { return _mm256_set1_ps(v); }
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  // The first n (1..7) lanes; the others are neither read nor written.
  static __m256i mask(size_t n) {
    static const int32_t table[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(&table[8 - n]));
  }
  static V load_partial(const float* p, size_t n) { return _mm256_maskload_ps(p, mask(n)); }
  static void store_partial(float* p, size_t n, V v) { _mm256_maskstore_ps(p, mask(n), v); }

  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static V first_lanes(size_t n, V v) { return _mm256_and_ps(v, _mm256_castsi256_ps(mask(n))); }  // zeros past n
  static float sum_lanes(V v) {
    __m128 x = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    x = _mm_add_ps(x, _mm_movehl_ps(x, x));
    return _mm_cvtss_f32(_mm_add_ss(x, _mm_movehdup_ps(x)));
  }
  static V sub(V a, V b) { return _mm256_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static V div(V a, V b) { return _mm256_div_ps(a, b); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }    // a b + c
  static V fnma(V a, V b, V c) { return _mm256_fnmadd_ps(a, b, c); }  // c - a b
  static V neg(V a) { return _mm256_xor_ps(a, _mm256_set1_ps(-0.0f)); }
  static V abs(V a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a); }
  // maxps / minps return their second operand when either is NaN: x's NaN stays.
  static V max_nan(V bound, V x) { return _mm256_max_ps(bound, x); }
  static V min_nan(V bound, V x) { return _mm256_min_ps(bound, x); }
  // Ordered comparisons: false for NaN.
  static M gt(V a, V b) { return _mm256_cmp_ps(a, b, _CMP_GT_OQ); }
  static M ge(V a, V b) { return _mm256_cmp_ps(a, b, _CMP_GE_OQ); }
  static M le(V a, V b) { return _mm256_cmp_ps(a, b, _CMP_LE_OQ); }
  static V select(M m, V a, V b) { return _mm256_blendv_ps(b, a, m); }
  static V zero_where(M m, V v) { return _mm256_andnot_ps(m, v); }
  // y >= 0 (or NaN) with x's sign.
  static V copysign(V y, V x) { return _mm256_or_ps(y, _mm256_and_ps(x, _mm256_set1_ps(-0.0f))); }
  // 2^n from a magic-biased n (its low bits n + 127), see vunary.h.
  static V pow2(V biased) { return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_castps_si256(biased), 23)); }
  // x = m 2^k, m in [sqrt(1/2), sqrt(2)), for a normal x > 0: m, and k as a float (x's bits less
  // sqrt(1/2)'s split the exponent there instead of at 1).
  static V split_log2(V x, V& k) {
    const __m256i sqrt_half = _mm256_set1_epi32(0x3f3504f3);
    const __m256i i = _mm256_sub_epi32(_mm256_castps_si256(x), sqrt_half);
    k = _mm256_cvtepi32_ps(_mm256_srai_epi32(i, 23));
    return _mm256_castsi256_ps(_mm256_add_epi32(_mm256_and_si256(i, _mm256_set1_epi32(0x7fffff)), sqrt_half));
  }
};

}  // namespace

PP_F32_VUNARY_UKERNELS(Avx2, avx2, 32, 32, 32)
