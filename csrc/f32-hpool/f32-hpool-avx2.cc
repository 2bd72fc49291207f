// AVX2 f32 horizontal pooling microkernels (contract: ukernels.h): eight outputs per iteration.
// Stride 1 loads the taps at successive offsets; stride 2 splits 16 inputs into their even and
// odd elements (shuffle, then a 64-bit permute to undo the 128-bit halves) and takes the third
// tap as the evens of the inputs two further on. The last 1-7 outputs are computed one by one
// in the same order.
#include <immintrin.h>

#include "hpool.h"

namespace {

template <pp_hpool_op Op>
__m256 combine(__m256 acc, __m256 v) {
  if constexpr (Op == pp_hpool_max) {
    // maxps returns its second operand when either is NaN: a NaN in acc is put back.
    return _mm256_blendv_ps(_mm256_max_ps(acc, v), acc, _mm256_cmp_ps(acc, acc, _CMP_UNORD_Q));
  }
  return _mm256_add_ps(acc, v);
}

// Elements 0, 2, ..., 14 (odd = false) or 1, 3, ..., 15 of p[0..16).
template <bool Odd>
__m256 every_other(const float* p) {
  const __m256 lo = _mm256_loadu_ps(p), hi = _mm256_loadu_ps(p + 8);
  const __m256 mixed = Odd ? _mm256_shuffle_ps(lo, hi, 0xDD) : _mm256_shuffle_ps(lo, hi, 0x88);
  return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(mixed), 0xD8));
}

template <pp_hpool_op Op, size_t K, size_t S>
void hpool_avx2(size_t n, const float* x, float* y) {
  PP_ASSERT(n >= 1);
  size_t o = 0;
  for (; o + 8 <= n; o += 8) {
    const float* p = x + o * S;
    __m256 acc;
    if constexpr (S == 1) {
      acc = _mm256_loadu_ps(p);
      for (size_t j = 1; j < K; j++) acc = combine<Op>(acc, _mm256_loadu_ps(p + j));
    } else {
      static_assert(S == 2 && (K == 2 || K == 3), "stride 2 takes 2 or 3 taps");
      acc = combine<Op>(every_other<false>(p), every_other<true>(p));
      if constexpr (K == 3) acc = combine<Op>(acc, every_other<false>(p + 2));
    }
    _mm256_storeu_ps(y + o, acc);
  }
  for (; o < n; o++) y[o] = pp_hpool_output<Op, K, S>(x, o);
}

}  // namespace

PP_HPOOL_DEFINE(pp_f32_hpool_max_ukernel_3s2__avx2, hpool_avx2, max, 3, 2)
PP_HPOOL_DEFINE(pp_f32_hpool_max_ukernel_3s1__avx2, hpool_avx2, max, 3, 1)
PP_HPOOL_DEFINE(pp_f32_hpool_max_ukernel_2s2__avx2, hpool_avx2, max, 2, 2)
PP_HPOOL_DEFINE(pp_f32_hpool_sum_ukernel_3s2__avx2, hpool_avx2, sum, 3, 2)
PP_HPOOL_DEFINE(pp_f32_hpool_sum_ukernel_3s1__avx2, hpool_avx2, sum, 3, 1)
PP_HPOOL_DEFINE(pp_f32_hpool_sum_ukernel_2s2__avx2, hpool_avx2, sum, 2, 2)
