// f32 row extreme microkernels, AVX2: NaN tracked in a vector of compare results (rminmax-x86.h).
#include <immintrin.h>

#include "rminmax-x86.h"

namespace {

struct Avx2 {
  using V = __m256;
  using M = __m256;
  static constexpr size_t kLanes = 8;
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  static V max(V a, V b) { return _mm256_max_ps(a, b); }
  static V min(V a, V b) { return _mm256_min_ps(a, b); }
  static M unordered(V v) { return _mm256_cmp_ps(v, v, _CMP_UNORD_Q); }
  static M either(M a, M b) { return _mm256_or_ps(a, b); }
  static bool any(M m) { return _mm256_movemask_ps(m) != 0; }
  static float max_lanes(V v) { return fold_lanes(v, [](__m128 a, __m128 b) { return _mm_max_ps(a, b); }); }
  static float min_lanes(V v) { return fold_lanes(v, [](__m128 a, __m128 b) { return _mm_min_ps(a, b); }); }
  // The halves, then the pairs, then the two lanes left, folded by f.
  template <class F>
  static float fold_lanes(V v, F f) {
    __m128 x = f(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    x = f(x, _mm_movehl_ps(x, x));
    return _mm_cvtss_f32(f(x, _mm_movehdup_ps(x)));
  }
};

}  // namespace

PP_F32_RMINMAX_UKERNELS(Avx2, avx2, 32)
