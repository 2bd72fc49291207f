// x86-64 GEMV microkernel template (contract: ukernels.h), written once for AVX2 and AVX-512
// (x86_vector.h): panels of NR = 2 vectors of outputs. Per panel, k in steps of 4 into four
// accumulator pairs (eight independent FMA chains: two FMA ports times a four-cycle latency),
// each k one broadcast of x[k] and two FMAs on the weights; the pairs are summed at the end,
// the bias having started the first one. The last 1-3 k go to the first pair. The last panel's
// outputs past n are not stored (lane masks).
#pragma once

#include <cstddef>

#include "pyprune/ukernels.h"
#include "pyprune/unroll.h"
#include "pyprune/x86_vector.h"

namespace pp_f32_gemv_x86 {

using pyprune::unroll;

// The weights stream from DRAM (a classifier's megabytes, read once a forward, each call of the
// driver a slice of them): each line is asked for kPrefetchBytes ahead, a few hundred cycles
// before it is read. AVX-512, 1 thread, per node of the model's file: HRNet-W18-small's 2048 ->
// 1000 classifier 1.26x faster, MobileNetV1's 1024 -> 1000 1.15x.
constexpr size_t kPrefetchBytes = 4096;

template <class V>
PP_INLINE void gemv(size_t n, size_t kc, const float* x, const float* packed_w, float* y,
                    const pp_f32_minmax_params* params) {
  using T = typename V::T;
  constexpr size_t L = V::kLanes, NR = 2 * L;
  PP_ASSERT(n >= 1 && kc >= 1);
  const T vmin = V::splat(&params->min), vmax = V::splat(&params->max);
  const float* w = packed_w;
  for (size_t o = 0; o < n; o += NR) {
    T acc[4][2];
    acc[0][0] = V::load(w);
    acc[0][1] = V::load(w + L);
    unroll<3>([&](auto j) PP_INLINE_LAMBDA { acc[j + 1][0] = acc[j + 1][1] = V::zero(); });
    w += NR;
    const float* px = x;
    size_t k = kc;
    for (; k >= 4; k -= 4, px += 4, w += 4 * NR) {
      for (size_t line = 0; line < 4 * NR * sizeof(float); line += 64)
        _mm_prefetch(reinterpret_cast<const char*>(w) + kPrefetchBytes + line, _MM_HINT_T0);
      unroll<4>([&](auto j) PP_INLINE_LAMBDA {
        const T vx = V::splat(px + PP_CONST(j));
        acc[j][0] = V::fma(V::load(w + NR * PP_CONST(j)), vx, acc[j][0]);
        acc[j][1] = V::fma(V::load(w + NR * PP_CONST(j) + L), vx, acc[j][1]);
      });
    }
    for (; k != 0; k--, px++, w += NR) {
      const T vx = V::splat(px);
      acc[0][0] = V::fma(V::load(w), vx, acc[0][0]);
      acc[0][1] = V::fma(V::load(w + L), vx, acc[0][1]);
    }
    T out[2];
    unroll<2>([&](auto h) PP_INLINE_LAMBDA {
      const T sum = V::add(V::add(acc[0][h], acc[1][h]), V::add(acc[2][h], acc[3][h]));
      out[h] = V::clamp(sum, vmin, vmax);
    });
    const size_t rest = n - o;
    if (PP_LIKELY(rest >= NR)) {
      V::store(y + o, out[0]);
      V::store(y + o + L, out[1]);
    } else if (rest > L) {
      V::store(y + o, out[0]);
      V::store(y + o + L, out[1], V::first_lanes(rest - L));
    } else {
      V::store(y + o, out[0], V::first_lanes(rest));
    }
  }
}

}  // namespace pp_f32_gemv_x86
