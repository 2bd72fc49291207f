// f32 row extreme microkernels, AVX-512F: NaN tracked in a mask register (rminmax-x86.h).
#include <immintrin.h>

#include "rminmax-x86.h"

namespace {

struct Avx512 {
  using V = __m512;
  using M = __mmask16;
  static constexpr size_t kLanes = 16;
  static V load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, V v) { _mm512_storeu_ps(p, v); }
  static V max(V a, V b) { return _mm512_max_ps(a, b); }
  static V min(V a, V b) { return _mm512_min_ps(a, b); }
  static M unordered(V v) { return _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q); }
  static M either(M a, M b) { return static_cast<M>(a | b); }
  static bool any(M m) { return m != 0; }
  static float max_lanes(V v) { return _mm512_reduce_max_ps(v); }
  static float min_lanes(V v) { return _mm512_reduce_min_ps(v); }
};

}  // namespace

PP_F32_RMINMAX_UKERNELS(Avx512, avx512, 64)
