// AVX2 f32 row-sum microkernel (contract: ukernels.h): four rows at a time, each in its own
// ymm accumulator (four independent add chains), 32 floats of a row added as a tree of three
// adds into it, then 8 at a time, the last 1-7 floats through a masked load; the four
// accumulators are folded together with horizontal adds into one xmm of sums.
// Rows left over (fewer than four) go one by one through the same loop.
#include <immintrin.h>

#include <cstdint>

#include "pyprune/ukernels.h"

namespace {

// Lanes [8 - n, 16 - n) of this table enable the first n lanes of a vector.
alignas(32) const int32_t kMask[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

template <size_t R>
void sum_rows(size_t n, const float* x, size_t x_stride, float* y) {
  const float* row[R];
  __m256 acc[R];
  for (size_t r = 0; r < R; r++) {
    row[r] = reinterpret_cast<const float*>(reinterpret_cast<const char*>(x) + r * x_stride);
    acc[r] = _mm256_setzero_ps();
  }
  size_t i = 0;
  // 32 floats added as a tree into the accumulator: one dependent add per 32 (a lone row's sum
  // would otherwise wait on the add latency at every vector, a third of what L2 delivers).
  for (; i + 32 <= n; i += 32)
    for (size_t r = 0; r < R; r++) {
      const float* p = row[r] + i;
      const __m256 v = _mm256_add_ps(_mm256_add_ps(_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8)),
                                     _mm256_add_ps(_mm256_loadu_ps(p + 16), _mm256_loadu_ps(p + 24)));
      acc[r] = _mm256_add_ps(acc[r], v);
    }
  for (; i + 8 <= n; i += 8)
    for (size_t r = 0; r < R; r++) acc[r] = _mm256_add_ps(acc[r], _mm256_loadu_ps(row[r] + i));
  if (i < n) {
    const __m256i mask = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kMask + 8 - (n - i)));
    for (size_t r = 0; r < R; r++) acc[r] = _mm256_add_ps(acc[r], _mm256_maskload_ps(row[r] + i, mask));
  }
  if constexpr (R == 4) {
    // hadd pairs lanes within each 128-bit half: after two rounds, half h holds row r's
    // partial sum of that half in lane r.
    const __m256 sums = _mm256_hadd_ps(_mm256_hadd_ps(acc[0], acc[1]), _mm256_hadd_ps(acc[2], acc[3]));
    _mm_storeu_ps(y, _mm_add_ps(_mm256_castps256_ps128(sums), _mm256_extractf128_ps(sums, 1)));
  } else {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(acc[0]), _mm256_extractf128_ps(acc[0], 1));
    s = _mm_hadd_ps(s, s);
    s = _mm_hadd_ps(s, s);
    _mm_store_ss(y, s);
  }
}

}  // namespace

extern "C" void pp_f32_rsum_ukernel_c4__avx2(size_t n, size_t rows, const float* x, size_t x_stride, float* y) {
  PP_ASSERT(n >= 1 && rows >= 1);
  for (; rows >= 4; rows -= 4, y += 4) {
    sum_rows<4>(n, x, x_stride, y);
    x = reinterpret_cast<const float*>(reinterpret_cast<const char*>(x) + 4 * x_stride);
  }
  for (; rows != 0; rows--, y++) {
    sum_rows<1>(n, x, x_stride, y);
    x = reinterpret_cast<const float*>(reinterpret_cast<const char*>(x) + x_stride);
  }
}
