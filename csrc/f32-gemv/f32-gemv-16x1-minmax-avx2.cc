// AVX2+FMA GEMV microkernel (contract: ukernels.h): panels of 16 outputs, two ymm per k.
// Per panel, k in steps of 4 into four accumulator pairs (eight independent FMA chains: two FMA
// ports times a four-cycle latency), each k one broadcast of x[k] and two FMAs on the weights
// (memory operands); the pairs are summed at the end, the bias having started the first one.
// The last 1-3 k go to the first pair. The last panel's outputs past n are not stored (masked).
#include <immintrin.h>

#include "pyprune/ukernels.h"
#include "pyprune/unroll.h"

namespace {

using pyprune::unroll;

constexpr size_t NR = 16;

// 8 ones then 8 zeros: loading at [8 - n] gives the mask of the first n lanes (0 <= n <= 8).
alignas(64) const int32_t kMaskTable[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

PP_INLINE __m256i first_lanes(size_t n) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(&kMaskTable[8 - n]));
}

}  // namespace

extern "C" void pp_f32_gemv_minmax_ukernel_16x1__avx2(size_t n, size_t kc, const float* x, const float* packed_w,
                                                      float* y, const pp_f32_minmax_params* params) {
  PP_ASSERT(n >= 1 && kc >= 1);
  const __m256 vmin = _mm256_broadcast_ss(&params->min), vmax = _mm256_broadcast_ss(&params->max);
  const float* w = packed_w;
  for (size_t o = 0; o < n; o += NR) {
    __m256 acc[4][2];
    acc[0][0] = _mm256_loadu_ps(w);
    acc[0][1] = _mm256_loadu_ps(w + 8);
    unroll<3>([&](auto j) PP_INLINE_LAMBDA { acc[j + 1][0] = acc[j + 1][1] = _mm256_setzero_ps(); });
    w += NR;
    const float* px = x;
    size_t k = kc;
    for (; k >= 4; k -= 4, px += 4, w += 4 * NR) {
      unroll<4>([&](auto j) PP_INLINE_LAMBDA {
        const __m256 vx = _mm256_broadcast_ss(px + PP_CONST(j));
        acc[j][0] = _mm256_fmadd_ps(_mm256_loadu_ps(w + NR * PP_CONST(j)), vx, acc[j][0]);
        acc[j][1] = _mm256_fmadd_ps(_mm256_loadu_ps(w + NR * PP_CONST(j) + 8), vx, acc[j][1]);
      });
    }
    for (; k != 0; k--, px++, w += NR) {
      const __m256 vx = _mm256_broadcast_ss(px);
      acc[0][0] = _mm256_fmadd_ps(_mm256_loadu_ps(w), vx, acc[0][0]);
      acc[0][1] = _mm256_fmadd_ps(_mm256_loadu_ps(w + 8), vx, acc[0][1]);
    }
    __m256 out[2];
    unroll<2>([&](auto h) PP_INLINE_LAMBDA {
      const __m256 sum = _mm256_add_ps(_mm256_add_ps(acc[0][h], acc[1][h]), _mm256_add_ps(acc[2][h], acc[3][h]));
      out[h] = _mm256_min_ps(vmax, _mm256_max_ps(vmin, sum));  // max/min return the second operand on NaN
    });
    const size_t rest = n - o;
    if (PP_LIKELY(rest >= NR)) {
      _mm256_storeu_ps(y + o, out[0]);
      _mm256_storeu_ps(y + o + 8, out[1]);
    } else if (rest > 8) {
      _mm256_storeu_ps(y + o, out[0]);
      _mm256_maskstore_ps(y + o + 8, first_lanes(rest - 8), out[1]);
    } else {
      _mm256_maskstore_ps(y + o, first_lanes(rest), out[0]);
    }
  }
}
