// NEON (AArch64) GEMV microkernel (contract: ukernels.h): panels of 8 outputs, two q registers
// per k: the layout of the NEON GEMM's packed blocks (8 rows), so a 1x1 convolution runs either
// kernel on one packed copy.
// Per panel, the main loop takes 8 k per trip and gives k + j to accumulator pair j: 16
// accumulators, each one FMLA per trip, so no FMLA waits for the one before it (the loop is
// bound by its loads: every weight is used once). A trip is one LDP of x[k .. k+8), four LD1 of
// 16 weights (two banks of four registers, each reloaded once its FMLAs are issued), 16 FMLA by
// element (acc[j] += w[k+j] * x.s[j % 4]), SUBS and B.NE: 23 instructions per 64 MACs (0.36 per
// MAC). The weight loads alternate between two pointers, each post-incremented past the other's
// next 16 weights, so that no load waits for the address update of the one before it (llvm-mca's
// Cortex-A72 model makes that update as slow as the load: 32 cycles a trip with one pointer). It is one asm statement, the accumulators its outputs (started
// there: the bias in the first pair, zeros elsewhere): GCC 12 splits the weight loads into
// LDP/LDR pairs with offsets and updates both pointers and a counter itself (34 instructions a
// trip, 0.53 per MAC), and 16 in-out operands are more than an asm statement takes. The last 1-7
// k: one step of 4 into pairs 0-3 if 4 remain, then single k (x[k] broadcast) into pair 0. The
// pairs are summed at the end, then clamped (FMAX with min, FMIN with max: NaN propagates). The
// last panel's outputs past n are not stored.
#include <arm_neon.h>

#include "pyprune/ukernels.h"
#include "pyprune/unroll.h"

namespace {

using pyprune::unroll;

constexpr size_t NR = 8;

// y[0 .. count) = the first count (0..4) lanes of v.
PP_INLINE void store_first(float* y, float32x4_t v, size_t count) {
  if (count >= 2) {
    vst1_f32(y, vget_low_f32(v));
    if (count == 4) vst1_f32(y + 2, vget_high_f32(v));
    if (count == 3) vst1q_lane_f32(y + 2, v, 2);
  } else if (count == 1) {
    vst1q_lane_f32(y, v, 0);
  }
}

// acc[j] = bias (j = 0) or 0, then acc[j] += w[k + j] * x[k + j] for 8 k per trip, `trips` >= 0
// trips; pw (past the bias afterwards) and px advance over what they consumed.
PP_INLINE void main_loop(float32x4_t (&acc)[8][2], const float*& pw, const float*& px, size_t trips) {
#define PP_GEMV_ZERO(J) "movi %[a" J "0].16b, #0\n\t" "movi %[a" J "1].16b, #0\n\t"
#define PP_GEMV_FMLA(J, W0, W1, X, L) \
  "fmla %[a" J "0].4s, " W0 ".4s, " X ".s[" L "]\n\t" "fmla %[a" J "1].4s, " W1 ".4s, " X ".s[" L "]\n\t"
  const float* pw2;  // the second pointer into the weights
  const size_t stride = 2 * 16 * sizeof(float);
  __asm__ volatile(
      "ldp %q[a00], %q[a01], [%[pw]], #32\n\t"
      PP_GEMV_ZERO("1") PP_GEMV_ZERO("2") PP_GEMV_ZERO("3") PP_GEMV_ZERO("4") PP_GEMV_ZERO("5")
      PP_GEMV_ZERO("6") PP_GEMV_ZERO("7")
      "cbz %[trips], 2f\n\t"
      "add %[pw2], %[pw], #64\n"
      "1:\n\t"
      "ldp q24, q25, [%[px]], #32\n\t"
      "ld1 {v16.4s - v19.4s}, [%[pw]], %[stride]\n\t"
      "ld1 {v20.4s - v23.4s}, [%[pw2]], %[stride]\n\t"
      PP_GEMV_FMLA("0", "v16", "v17", "v24", "0") PP_GEMV_FMLA("1", "v18", "v19", "v24", "1")
      "ld1 {v16.4s - v19.4s}, [%[pw]], %[stride]\n\t"
      PP_GEMV_FMLA("2", "v20", "v21", "v24", "2") PP_GEMV_FMLA("3", "v22", "v23", "v24", "3")
      "ld1 {v20.4s - v23.4s}, [%[pw2]], %[stride]\n\t"
      PP_GEMV_FMLA("4", "v16", "v17", "v25", "0") PP_GEMV_FMLA("5", "v18", "v19", "v25", "1")
      PP_GEMV_FMLA("6", "v20", "v21", "v25", "2") PP_GEMV_FMLA("7", "v22", "v23", "v25", "3")
      "subs %[trips], %[trips], #1\n\t"
      "b.ne 1b\n"
      "2:\n\t"
      : [a00] "=w"(acc[0][0]), [a01] "=w"(acc[0][1]), [a10] "=w"(acc[1][0]), [a11] "=w"(acc[1][1]),
        [a20] "=w"(acc[2][0]), [a21] "=w"(acc[2][1]), [a30] "=w"(acc[3][0]), [a31] "=w"(acc[3][1]),
        [a40] "=w"(acc[4][0]), [a41] "=w"(acc[4][1]), [a50] "=w"(acc[5][0]), [a51] "=w"(acc[5][1]),
        [a60] "=w"(acc[6][0]), [a61] "=w"(acc[6][1]), [a70] "=w"(acc[7][0]), [a71] "=w"(acc[7][1]),
        [px] "+r"(px), [pw] "+r"(pw), [pw2] "=&r"(pw2), [trips] "+r"(trips)
      : [stride] "r"(stride)
      : "v16", "v17", "v18", "v19", "v20", "v21", "v22", "v23", "v24", "v25", "cc", "memory");
#undef PP_GEMV_ZERO
#undef PP_GEMV_FMLA
}

}  // namespace

extern "C" void pp_f32_gemv_minmax_ukernel_8x1__neon(size_t n, size_t kc, const float* x, const float* packed_w,
                                                     float* y, const pp_f32_minmax_params* params) {
  PP_ASSERT(n >= 1 && kc >= 1);
  const float* w = packed_w;
  for (size_t o = 0; o < n; o += NR) {
    float32x4_t acc[8][2];
    const float* px = x;
    main_loop(acc, w, px, kc / 8);
    size_t k = kc % 8;
    if (k >= 4) {
      const float32x4_t vx = vld1q_f32(px);
      unroll<4>([&](auto j) PP_INLINE_LAMBDA {
        acc[j][0] = vfmaq_laneq_f32(acc[j][0], vld1q_f32(w + NR * PP_CONST(j)), vx, PP_CONST(j));
        acc[j][1] = vfmaq_laneq_f32(acc[j][1], vld1q_f32(w + NR * PP_CONST(j) + 4), vx, PP_CONST(j));
      });
      w += 4 * NR;
      px += 4;
      k -= 4;
    }
    for (; k != 0; k--, px++, w += NR) {
      const float32x4_t vx = vld1q_dup_f32(px);
      acc[0][0] = vfmaq_f32(acc[0][0], vld1q_f32(w), vx);
      acc[0][1] = vfmaq_f32(acc[0][1], vld1q_f32(w + 4), vx);
    }
    const float32x4_t vmin = vld1q_dup_f32(&params->min), vmax = vld1q_dup_f32(&params->max);
    float32x4_t out[2];
    unroll<2>([&](auto h) PP_INLINE_LAMBDA {
      const float32x4_t low = vaddq_f32(vaddq_f32(acc[0][h], acc[1][h]), vaddq_f32(acc[2][h], acc[3][h]));
      const float32x4_t high = vaddq_f32(vaddq_f32(acc[4][h], acc[5][h]), vaddq_f32(acc[6][h], acc[7][h]));
      out[h] = vminq_f32(vmaxq_f32(vaddq_f32(low, high), vmin), vmax);
    });
    const size_t rest = n - o;
    if (PP_LIKELY(rest >= NR)) {
      vst1q_f32(y + o, out[0]);
      vst1q_f32(y + o + 4, out[1]);
    } else if (rest > 4) {
      vst1q_f32(y + o, out[0]);
      store_first(y + o + 4, out[1], rest - 4);
    } else {
      store_first(y + o, out[0], rest);
    }
  }
}
