// AVX2 f32 row pooling microkernels (contract: ukernels.h): eight outputs per iteration, the
// rows combined first in the vectors loaded, then the taps. Stride 1 loads the taps at
// successive offsets; stride 2 loads 16 inputs and, once the rows are combined, splits them into
// their even and odd elements (shuffle, then a 64-bit permute to undo the 128-bit halves), the
// third tap being the combined evens shifted down a lane with the column after them (so nothing
// past the window is read). The last 1-7 outputs are the last eight again (overlapping, so the
// same values), or one by one in the same order when n < 8. Outputs whose windows start in the
// padding come first, one by one.
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

// Elements 0, 2, ..., 14 (odd = false) or 1, 3, ..., 15 of [lo | hi].
template <bool Odd>
__m256 every_other(__m256 lo, __m256 hi) {
  const __m256 mixed = Odd ? _mm256_shuffle_ps(lo, hi, 0xDD) : _mm256_shuffle_ps(lo, hi, 0x88);
  return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(mixed), 0xD8));
}

// What outputs o .. o + 7 read of row p, as vectors: the K taps (stride 1: tap[j] lane i =
// p[o + i + j]), or (stride 2) p[2o .. 2o + 16) and, for a third tap, p[2o + 16] in every lane;
// the rows are combined in these, the taps split out once (taps()).
template <size_t K, size_t S>
void load(const float* p, __m256* v) {
  if constexpr (S == 1) {
    for (size_t j = 0; j < K; j++) v[j] = _mm256_loadu_ps(p + j);
  } else {
    static_assert(S == 2 && (K == 2 || K == 3), "stride 2 takes 2 or 3 taps");
    v[0] = _mm256_loadu_ps(p);
    v[1] = _mm256_loadu_ps(p + 8);
    if constexpr (K == 3) v[2] = _mm256_broadcast_ss(p + 16);
  }
}

template <pp_hpool_op Op, size_t K, size_t S>
__m256 taps(const __m256* v) {
  if constexpr (S == 1) {
    __m256 acc = v[0];
    for (size_t j = 1; j < K; j++) acc = combine<Op>(acc, v[j]);
    return acc;
  } else {
    const __m256 even = every_other<false>(v[0], v[1]);
    __m256 acc = combine<Op>(even, every_other<true>(v[0], v[1]));
    if constexpr (K == 3) {
      // The evens one further on: shifted down a lane, p[2o + 16] last.
      const __m256 shifted = _mm256_permutevar8x32_ps(even, _mm256_setr_epi32(1, 2, 3, 4, 5, 6, 7, 7));
      acc = combine<Op>(acc, _mm256_blend_ps(shifted, v[2], 0x80));
    }
    return acc;
  }
}

template <pp_hpool_op Op, size_t K, size_t S>
void hpool_avx2(size_t n, size_t rows, size_t pad, const float* x, size_t x_stride, float* y) {
  PP_ASSERT(n >= 1 && rows >= 1 && pad <= K / 2);
  // The outputs whose windows start in the padding one by one, then those inside the row.
  const size_t edge = pp_hpool_left_edge<Op, K, S>(n, rows, pad, x, x_stride, y);
  if (edge == n) return;
  n -= edge;
  x += edge * S - pad;
  y += edge;
  auto eight = [&](size_t o) {
    __m256 column[K], next[K];
    load<K, S>(x + o * S, column);
    for (size_t r = 1; r < rows; r++) {
      load<K, S>(pp_hpool_row(x, x_stride, r) + o * S, next);
      for (size_t j = 0; j < K; j++) column[j] = combine<Op>(column[j], next[j]);
    }
    _mm256_storeu_ps(y + o, taps<Op, K, S>(column));
  };
  size_t o = 0;
  for (; o + 8 <= n; o += 8) eight(o);
  if (o < n && n >= 8) {
    eight(n - 8);
    return;
  }
  for (; o < n; o++) y[o] = pp_hpool_output<Op, K, S>(rows, x, x_stride, o);
}

}  // namespace

PP_HPOOL_DEFINE(pp_f32_hpool_max_ukernel_3s2__avx2, hpool_avx2, max, 3, 2)
PP_HPOOL_DEFINE(pp_f32_hpool_max_ukernel_3s1__avx2, hpool_avx2, max, 3, 1)
PP_HPOOL_DEFINE(pp_f32_hpool_max_ukernel_5s1__avx2, hpool_avx2, max, 5, 1)
PP_HPOOL_DEFINE(pp_f32_hpool_max_ukernel_2s2__avx2, hpool_avx2, max, 2, 2)
PP_HPOOL_DEFINE(pp_f32_hpool_max_ukernel_2s1__avx2, hpool_avx2, max, 2, 1)
PP_HPOOL_DEFINE(pp_f32_hpool_sum_ukernel_3s2__avx2, hpool_avx2, sum, 3, 2)
PP_HPOOL_DEFINE(pp_f32_hpool_sum_ukernel_3s1__avx2, hpool_avx2, sum, 3, 1)
PP_HPOOL_DEFINE(pp_f32_hpool_sum_ukernel_5s1__avx2, hpool_avx2, sum, 5, 1)
PP_HPOOL_DEFINE(pp_f32_hpool_sum_ukernel_2s2__avx2, hpool_avx2, sum, 2, 2)
PP_HPOOL_DEFINE(pp_f32_hpool_sum_ukernel_2s1__avx2, hpool_avx2, sum, 2, 1)
