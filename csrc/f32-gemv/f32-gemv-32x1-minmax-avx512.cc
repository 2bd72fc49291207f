// AVX-512 GEMV microkernel (contract: ukernels.h): panels of 32 outputs, two zmm per k.
// Per panel, k in steps of 4 into four accumulator pairs (eight independent FMA chains), each k
// one broadcast of x[k] and two FMAs on the weights (memory operands); the pairs are summed at
// the end, the bias having started the first one. The last 1-3 k go to the first pair. The last
// panel's outputs past n are not stored (lane masks).
#include <immintrin.h>

#include "pyprune/ukernels.h"
#include "pyprune/unroll.h"

namespace {

using pyprune::unroll;

constexpr size_t NR = 32;

// The first n lanes (0 <= n <= 16).
PP_INLINE __mmask16 first_lanes(size_t n) { return static_cast<__mmask16>((1u << n) - 1); }

}  // namespace

extern "C" void pp_f32_gemv_minmax_ukernel_32x1__avx512(size_t n, size_t kc, const float* x, const float* packed_w,
                                                        float* y, const pp_f32_minmax_params* params) {
  PP_ASSERT(n >= 1 && kc >= 1);
  const __m512 vmin = _mm512_set1_ps(params->min), vmax = _mm512_set1_ps(params->max);
  const float* w = packed_w;
  for (size_t o = 0; o < n; o += NR) {
    __m512 acc[4][2];
    acc[0][0] = _mm512_loadu_ps(w);
    acc[0][1] = _mm512_loadu_ps(w + 16);
    unroll<3>([&](auto j) PP_INLINE_LAMBDA { acc[j + 1][0] = acc[j + 1][1] = _mm512_setzero_ps(); });
    w += NR;
    const float* px = x;
    size_t k = kc;
    for (; k >= 4; k -= 4, px += 4, w += 4 * NR) {
      unroll<4>([&](auto j) PP_INLINE_LAMBDA {
        const __m512 vx = _mm512_set1_ps(px[PP_CONST(j)]);
        acc[j][0] = _mm512_fmadd_ps(_mm512_loadu_ps(w + NR * PP_CONST(j)), vx, acc[j][0]);
        acc[j][1] = _mm512_fmadd_ps(_mm512_loadu_ps(w + NR * PP_CONST(j) + 16), vx, acc[j][1]);
      });
    }
    for (; k != 0; k--, px++, w += NR) {
      const __m512 vx = _mm512_set1_ps(*px);
      acc[0][0] = _mm512_fmadd_ps(_mm512_loadu_ps(w), vx, acc[0][0]);
      acc[0][1] = _mm512_fmadd_ps(_mm512_loadu_ps(w + 16), vx, acc[0][1]);
    }
    __m512 out[2];
    unroll<2>([&](auto h) PP_INLINE_LAMBDA {
      const __m512 sum = _mm512_add_ps(_mm512_add_ps(acc[0][h], acc[1][h]), _mm512_add_ps(acc[2][h], acc[3][h]));
      out[h] = _mm512_min_ps(vmax, _mm512_max_ps(vmin, sum));  // max/min return the second operand on NaN
    });
    const size_t rest = n - o;
    if (PP_LIKELY(rest >= NR)) {
      _mm512_storeu_ps(y + o, out[0]);
      _mm512_storeu_ps(y + o + 16, out[1]);
    } else if (rest > 16) {
      _mm512_storeu_ps(y + o, out[0]);
      _mm512_mask_storeu_ps(y + o + 16, first_lanes(rest - 16), out[1]);
    } else {
      _mm512_mask_storeu_ps(y + o, first_lanes(rest), out[0]);
    }
  }
}
