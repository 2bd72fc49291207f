// NEON (AArch64) GEMV microkernel (contract: ukernels.h): panels of 8 outputs, two q registers
// per k: the layout of the NEON GEMM's packed blocks (8 rows), so a 1x1 convolution runs either
// kernel on one packed copy.
// Per panel, the main loop takes 16 k per trip and gives k + j to accumulator pair j % 8: 16
// accumulators, each two FMLAs per trip, so no FMLA waits for the one before it (the loop is
// bound by its loads: every weight is used once). A trip is one LD1 of x[k .. k+16) into four q,
// eight LD1 of 16 weights (two banks of four registers, each reloaded once its FMLAs are
// issued), 32 FMLA by element (acc[j] += w[k+j] * x.s[j % 4]), SUBS and B.NE: 43 instructions
// per 128 MACs (0.336 per MAC; a trip of 8 k took 23 per 64, 0.36, its x load and loop control
// over half the MACs). The weight loads alternate between two pointers, each post-incremented
// past the other's next 16 weights, so that no load waits for the address update of the one
// before it (llvm-mca's Cortex-A72 model makes that update as slow as the load: 32 cycles a trip
// of 8 k with one pointer). It is one asm statement, the accumulators its outputs (started
// there: the bias in the first pair, zeros elsewhere): GCC 12 splits the weight loads into
// LDP/LDR pairs with offsets and updates both pointers and a counter itself (34 instructions a
// trip of 8 k, 0.53 per MAC), and 16 in-out operands are more than an asm statement takes. The
// same statement takes 8 k more once if 8-15 remain. The last 1-7 k: one step of 4 into pairs
// 0-3 if 4 remain, then single k (x[k] broadcast) into pair 0. The pairs are summed at the end,
// then clamped (FMAX with min, FMIN with max: NaN propagates). The last panel's outputs past n
// are not stored.
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

// acc[j] = bias (j = 0) or 0, then acc[j] += w[k] * x[k] for every k = j (mod 8) of 16 k per
// trip (`trips` >= 0 trips) and, if `eight`, of 8 k more; pw (past the bias afterwards) and px
// advance over what they consumed.
PP_INLINE void main_loop(float32x4_t (&acc)[8][2], const float*& pw, const float*& px, size_t trips, bool eight) {
#define PP_GEMV_ZERO(J) "movi %[a" J "0].16b, #0\n\t" "movi %[a" J "1].16b, #0\n\t"
#define PP_GEMV_FMLA(J, W0, W1, X, L) \
  "fmla %[a" J "0].4s, " W0 ".4s, " X ".s[" L "]\n\t" "fmla %[a" J "1].4s, " W1 ".4s, " X ".s[" L "]\n\t"
// The four k of x register X into pairs J0 .. J0+3: weights from bank v16-v19 (k, k+1) and bank
// v20-v23 (k+2, k+3), each bank reloaded (LOAD0, LOAD1) once its FMLAs are issued.
#define PP_GEMV_FOUR(J0, J1, J2, J3, X, LOAD0, LOAD1)                                     \
  PP_GEMV_FMLA(J0, "v16", "v17", X, "0") PP_GEMV_FMLA(J1, "v18", "v19", X, "1") LOAD0 \
  PP_GEMV_FMLA(J2, "v20", "v21", X, "2") PP_GEMV_FMLA(J3, "v22", "v23", X, "3") LOAD1
#define PP_GEMV_BANK0 "ld1 {v16.4s - v19.4s}, [%[pw]], %[stride]\n\t"
#define PP_GEMV_BANK1 "ld1 {v20.4s - v23.4s}, [%[pw2]], %[stride]\n\t"
  const float* pw2;  // the second pointer into the weights
  const size_t stride = 2 * 16 * sizeof(float);
  __asm__ volatile(
      "ldp %q[a00], %q[a01], [%[pw]], #32\n\t"
      PP_GEMV_ZERO("1") PP_GEMV_ZERO("2") PP_GEMV_ZERO("3") PP_GEMV_ZERO("4") PP_GEMV_ZERO("5")
      PP_GEMV_ZERO("6") PP_GEMV_ZERO("7")
      "add %[pw2], %[pw], #64\n\t"
      "cbz %[trips], 2f\n"
      "1:\n\t"
      "ld1 {v24.4s - v27.4s}, [%[px]], #64\n\t"
      PP_GEMV_BANK0 PP_GEMV_BANK1
      PP_GEMV_FOUR("0", "1", "2", "3", "v24", PP_GEMV_BANK0, PP_GEMV_BANK1)
      PP_GEMV_FOUR("4", "5", "6", "7", "v25", PP_GEMV_BANK0, PP_GEMV_BANK1)
      PP_GEMV_FOUR("0", "1", "2", "3", "v26", PP_GEMV_BANK0, PP_GEMV_BANK1)
      PP_GEMV_FOUR("4", "5", "6", "7", "v27", "", "")
      "subs %[trips], %[trips], #1\n\t"
      "b.ne 1b\n"
      "2:\n\t"
      "cbz %[eight], 3f\n\t"
      "ldp q24, q25, [%[px]], #32\n\t"
      PP_GEMV_BANK0 PP_GEMV_BANK1
      PP_GEMV_FOUR("0", "1", "2", "3", "v24", PP_GEMV_BANK0, PP_GEMV_BANK1)
      PP_GEMV_FOUR("4", "5", "6", "7", "v25", "", "")
      "3:\n\t"
      : [a00] "=w"(acc[0][0]), [a01] "=w"(acc[0][1]), [a10] "=w"(acc[1][0]), [a11] "=w"(acc[1][1]),
        [a20] "=w"(acc[2][0]), [a21] "=w"(acc[2][1]), [a30] "=w"(acc[3][0]), [a31] "=w"(acc[3][1]),
        [a40] "=w"(acc[4][0]), [a41] "=w"(acc[4][1]), [a50] "=w"(acc[5][0]), [a51] "=w"(acc[5][1]),
        [a60] "=w"(acc[6][0]), [a61] "=w"(acc[6][1]), [a70] "=w"(acc[7][0]), [a71] "=w"(acc[7][1]),
        [px] "+r"(px), [pw] "+r"(pw), [pw2] "=&r"(pw2), [trips] "+r"(trips)
      : [stride] "r"(stride), [eight] "r"(static_cast<size_t>(eight))
      : "v16", "v17", "v18", "v19", "v20", "v21", "v22", "v23", "v24", "v25", "v26", "v27", "cc", "memory");
#undef PP_GEMV_ZERO
#undef PP_GEMV_FMLA
#undef PP_GEMV_FOUR
#undef PP_GEMV_BANK0
#undef PP_GEMV_BANK1
}

}  // namespace

extern "C" void pp_f32_gemv_minmax_ukernel_8x1__neon(size_t n, size_t kc, const float* x, const float* packed_w,
                                                     float* y, const pp_f32_minmax_params* params) {
  PP_ASSERT(n >= 1 && kc >= 1);
  const float* w = packed_w;
  for (size_t o = 0; o < n; o += NR) {
    float32x4_t acc[8][2];
    const float* px = x;
    main_loop(acc, w, px, kc / 16, (kc & 8) != 0);
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
