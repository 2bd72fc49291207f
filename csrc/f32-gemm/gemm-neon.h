// Template of the NEON (AArch64) f32 GEMM microkernels for 1x1 convolution in NCHW (contract in
// ukernels.h, "f32 GEMM"): MR = 8 output channels x NR = 4 * VN pixels, register-tiled.
// A kernel is Gemm with a policy for its full-width blocks (Wide8<KLoop> here: 8 columns; the
// 8x12 kernel's file has its own); what is left of a row of blocks goes to the blocks below.
//
// Design (per block of 8 rows x NR columns; 8-column blocks use VN = 2):
//  - 8 * VN accumulators (allocated by GCC in v0-v15: v16-v31 are the asm's) start at the bias.
//  - k is consumed in pairs. Per pair: ONE LD1 of 4 q registers brings the 16 packed weights
//    of k and k+1 (the block is k-major, 8 floats per k), one LD1 of VN q registers per k
//    brings b[k][n0 .. n0+NR) and post-increments by b_stride, then 2 * 8 * VN FMLA by element
//    (acc[m][v] += b[v] * w.s[m % 4]). 8x8: (1 + 2 + 32) / 128 MACs = 0.273 instructions/MAC.
//  - Software pipelined one k pair ahead: pair p + 1's three loads (weights, b[k+2], b[k+3])
//    are issued together before pair p's 32 FMLAs, into the other bank (weights v16-v19 /
//    v28-v31, b rows v24-v27 / v20-v23), so their latency hides behind 8 * 2 * VN FMLAs on an
//    in-order core. (Grouping them also costs the in-order Cortex-A53 model one FMLA->load
//    write-back stall per pair instead of one per load: 217 instead of 228 cycles / 4 pairs.)
//    Nothing past row kc - 1 of b or the end of the packed block is ever loaded.
//  - The whole k loop of a block (bias DUPs, prologue, 4-pair loop, 1..4-pair epilogue, odd k)
//    is one inline asm statement, accumulators as operands, fixed registers clobbered. Why not
//    intrinsics: GCC 12 turns vld1q_f32_x4 / x2 into float32x4xN_t values it copies around,
//    never post-increments a load by a register (b_stride), and with the loads in separate asm
//    statements it still copied a weight bank (4 MOVs per 4 pairs). LD1 of several registers
//    needs consecutive, i.e. fixed, registers anyway.
//  - Columns: full-width blocks, then one 8-column block if the full width is wider and 8 or
//    more remain, then one 4-column block (VN = 1; four k per load of b when its rows are 4
//    floats back to back: kloop_rows4) if 4 or more remain, then 1-3
//    columns in the other orientation (accumulators along m: acc[j][0..1] += w * b.s[j], 2 FMLA
//    per column per k instead of 8 with 1 useful lane), stored lane by lane; a single column
//    likewise (column()). Every path sums a column in k order from its bias, so a column's
//    value does not depend on nc or on its place in the call (ukernels.h).
//  - Rows mr..7: their output pointers alias row mr - 1 and rows are stored from 7 down to 0,
//    so the last write to row mr - 1 is its own; nothing outside rows 0..mr-1 is written, and
//    there is no branch per row. (The packed block is 8 rows wide: rows >= mr are computed.)
//  - Clamp: FMAX with min then FMIN with max (NaN propagates), picked once per call: none when
//    min/max are -inf/+inf, FMAX alone when max is +inf (ReLU).
// Reads: exactly b[k][0 .. nc) for k < kc, and the 8 + 8 * kc floats of the packed block.
#pragma once

#include <arm_neon.h>

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "pyprune/ukernels.h"
#include "pyprune/unroll.h"

namespace pyprune {
namespace gemm_neon {

constexpr int MR = 8;

// ---- The k loop: one asm statement per block width ------------------------------------------
// Registers: weight banks v16-v19 (bank A) and v28-v31 (bank B), 16 floats each = one k pair
// (w[k][0..7] in the first two, w[k+1][0..7] in the last two); b rows of the pair in v24..
// (even k) and v26.. (odd k) for bank A, v20.. and v22.. for bank B. Accumulators are operands
// %[cMV] (row M, vector V), allocated by GCC.
#define PP_GEMM_FMLA(M, V, B, W, L) "fmla %[c" M V "].4s, " B ".4s, " W ".s[" L "]\n\t"
// acc[m][0..VN) += b(k) * w(k)[m] for the 8 rows: w(k) rows 0-3 in W0, rows 4-7 in W1.
#define PP_GEMM_K2(W0, W1, B0, B1)                                                            \
  PP_GEMM_FMLA("0", "0", B0, W0, "0") PP_GEMM_FMLA("0", "1", B1, W0, "0")                     \
  PP_GEMM_FMLA("1", "0", B0, W0, "1") PP_GEMM_FMLA("1", "1", B1, W0, "1")                     \
  PP_GEMM_FMLA("2", "0", B0, W0, "2") PP_GEMM_FMLA("2", "1", B1, W0, "2")                     \
  PP_GEMM_FMLA("3", "0", B0, W0, "3") PP_GEMM_FMLA("3", "1", B1, W0, "3")                     \
  PP_GEMM_FMLA("4", "0", B0, W1, "0") PP_GEMM_FMLA("4", "1", B1, W1, "0")                     \
  PP_GEMM_FMLA("5", "0", B0, W1, "1") PP_GEMM_FMLA("5", "1", B1, W1, "1")                     \
  PP_GEMM_FMLA("6", "0", B0, W1, "2") PP_GEMM_FMLA("6", "1", B1, W1, "2")                     \
  PP_GEMM_FMLA("7", "0", B0, W1, "3") PP_GEMM_FMLA("7", "1", B1, W1, "3")
#define PP_GEMM_K1(W0, W1, B0)                                                                \
  PP_GEMM_FMLA("0", "0", B0, W0, "0") PP_GEMM_FMLA("1", "0", B0, W0, "1")                     \
  PP_GEMM_FMLA("2", "0", B0, W0, "2") PP_GEMM_FMLA("3", "0", B0, W0, "3")                     \
  PP_GEMM_FMLA("4", "0", B0, W1, "0") PP_GEMM_FMLA("5", "0", B0, W1, "1")                     \
  PP_GEMM_FMLA("6", "0", B0, W1, "2") PP_GEMM_FMLA("7", "0", B0, W1, "3")
// acc[m][v] = bias[m]: the 8 biases through v24-v25 (free until b is loaded).
#define PP_GEMM_DUP(M, V, W, L) "dup %[c" M V "].4s, " W ".s[" L "]\n\t"
#define PP_GEMM_BIAS2                                                                         \
  PP_GEMM_DUP("0", "0", "v24", "0") PP_GEMM_DUP("0", "1", "v24", "0")                         \
  PP_GEMM_DUP("1", "0", "v24", "1") PP_GEMM_DUP("1", "1", "v24", "1")                         \
  PP_GEMM_DUP("2", "0", "v24", "2") PP_GEMM_DUP("2", "1", "v24", "2")                         \
  PP_GEMM_DUP("3", "0", "v24", "3") PP_GEMM_DUP("3", "1", "v24", "3")                         \
  PP_GEMM_DUP("4", "0", "v25", "0") PP_GEMM_DUP("4", "1", "v25", "0")                         \
  PP_GEMM_DUP("5", "0", "v25", "1") PP_GEMM_DUP("5", "1", "v25", "1")                         \
  PP_GEMM_DUP("6", "0", "v25", "2") PP_GEMM_DUP("6", "1", "v25", "2")                         \
  PP_GEMM_DUP("7", "0", "v25", "3") PP_GEMM_DUP("7", "1", "v25", "3")
#define PP_GEMM_BIAS1                                                                         \
  PP_GEMM_DUP("0", "0", "v24", "0") PP_GEMM_DUP("1", "0", "v24", "1")                         \
  PP_GEMM_DUP("2", "0", "v24", "2") PP_GEMM_DUP("3", "0", "v24", "3")                         \
  PP_GEMM_DUP("4", "0", "v25", "0") PP_GEMM_DUP("5", "0", "v25", "1")                         \
  PP_GEMM_DUP("6", "0", "v25", "2") PP_GEMM_DUP("7", "0", "v25", "3")
#define PP_GEMM_LDW_A "ld1 {v16.4s - v19.4s}, [%[pw]], #64\n\t"
#define PP_GEMM_LDW_B "ld1 {v28.4s - v31.4s}, [%[pw]], #64\n\t"
// One k pair from bank A or B; with _NEXT, pair p + 1's weights and b rows are first loaded
// into the other bank (used 16 * VN FMLAs later).
#define PP_GEMM_PAIR_A PP_GEMM_KE("v16", "v17", A) PP_GEMM_KO("v18", "v19", A)
#define PP_GEMM_PAIR_B PP_GEMM_KE("v28", "v29", B) PP_GEMM_KO("v30", "v31", B)
#define PP_GEMM_PAIR_A_NEXT \
  PP_GEMM_LDW_B PP_GEMM_LDB_E(B) PP_GEMM_LDB_O(B) PP_GEMM_PAIR_A
#define PP_GEMM_PAIR_B_NEXT \
  PP_GEMM_LDW_A PP_GEMM_LDB_E(A) PP_GEMM_LDB_O(A) PP_GEMM_PAIR_B
// pairs = kc / 2 >= 0, iters = (pairs - 1) / 4 loop trips of 4 pairs, rest = pairs - 4 * iters
// in 1..4 pairs after the loop, then the odd k (kc & 1) alone. Nothing is loaded past row
// kc - 1 of b or the end of the packed block.
#define PP_GEMM_KLOOP                                                                         \
  "ld1 {v24.4s - v25.4s}, [%[pw]], #32\n\t"                                                   \
  PP_GEMM_BIAS                                                                                \
  "cbz %[pairs], 7f\n\t"                                                                      \
  PP_GEMM_LDW_A PP_GEMM_LDB_E(A) PP_GEMM_LDB_O(A)                                             \
  "cbz %[iters], 2f\n"                                                                        \
  "1:\n\t"                                                                                    \
  PP_GEMM_PAIR_A_NEXT PP_GEMM_PAIR_B_NEXT PP_GEMM_PAIR_A_NEXT PP_GEMM_PAIR_B_NEXT             \
  "subs %[iters], %[iters], #1\n\t"                                                           \
  "b.ne 1b\n"                                                                                 \
  "2:\n\t"                                                                                    \
  "cmp %[rest], #1\n\t"                                                                       \
  "b.eq 3f\n\t"                                                                               \
  PP_GEMM_PAIR_A_NEXT                                                                         \
  "cmp %[rest], #2\n\t"                                                                       \
  "b.eq 4f\n\t"                                                                               \
  PP_GEMM_PAIR_B_NEXT                                                                         \
  "cmp %[rest], #3\n\t"                                                                       \
  "b.eq 3f\n\t"                                                                               \
  PP_GEMM_PAIR_A_NEXT                                                                         \
  "4:\n\t"                                                                                    \
  PP_GEMM_PAIR_B                                                                              \
  "b 7f\n"                                                                                    \
  "3:\n\t"                                                                                    \
  PP_GEMM_PAIR_A                                                                              \
  "7:\n\t"                                                                                    \
  "tbz %[kc], #0, 8f\n\t"                                                                     \
  "ld1 {v16.4s - v17.4s}, [%[pw]], #32\n\t"                                                   \
  PP_GEMM_LDB_E(A)                                                                            \
  PP_GEMM_KE("v16", "v17", A)                                                                 \
  "8:\n\t"
#define PP_GEMM_KLOOP_OPERANDS                                                                \
  [pw] "+r"(pw), [pb] "+r"(pb), [iters] "+r"(iters)                                           \
  : [stride] "r"(b_stride), [pairs] "r"(pairs), [rest] "r"(rest), [kc] "r"(kc)
#define PP_GEMM_KLOOP_CLOBBERS                                                                \
  "v16", "v17", "v18", "v19", "v20", "v21", "v22", "v23", "v24", "v25", "v26", "v27", "v28",   \
      "v29", "v30", "v31", "cc", "memory"

// acc[m][v] = bias[m] + sum_k w[m][k] * b[k][4v .. 4v+4) over all kc; pw is the packed block.
// The accumulators are outputs only (an in-out operand counts twice against GCC's limit of 30).
template <int VN>
PP_INLINE void kloop(float32x4_t (&c)[8][VN], const float* pw, const float* pb,
                          size_t kc, intptr_t b_stride);

template <>
PP_INLINE void kloop<2>(float32x4_t (&c)[8][2], const float* pw, const float* pb,
                             size_t kc, intptr_t b_stride) {
  const size_t pairs = kc / 2;
  size_t iters = pairs == 0 ? 0 : (pairs - 1) / 4;
  const size_t rest = pairs - 4 * iters;
#define PP_GEMM_BIAS PP_GEMM_BIAS2
#define PP_GEMM_BE_A "v24", "v25"
#define PP_GEMM_BO_A "v26", "v27"
#define PP_GEMM_BE_B "v20", "v21"
#define PP_GEMM_BO_B "v22", "v23"
#define PP_GEMM_K2_(W0, W1, B) PP_GEMM_K2(W0, W1, B)
#define PP_GEMM_KE(W0, W1, BANK) PP_GEMM_K2_(W0, W1, PP_GEMM_BE_##BANK)
#define PP_GEMM_KO(W0, W1, BANK) PP_GEMM_K2_(W0, W1, PP_GEMM_BO_##BANK)
#define PP_GEMM_LDB2_(B0, B1) "ld1 {" B0 ".4s - " B1 ".4s}, [%[pb]], %[stride]\n\t"
#define PP_GEMM_LDB2(B) PP_GEMM_LDB2_(B)
#define PP_GEMM_LDB_E(BANK) PP_GEMM_LDB2(PP_GEMM_BE_##BANK)
#define PP_GEMM_LDB_O(BANK) PP_GEMM_LDB2(PP_GEMM_BO_##BANK)
  __asm__ volatile(PP_GEMM_KLOOP
                   : [c00] "=w"(c[0][0]), [c01] "=w"(c[0][1]), [c10] "=w"(c[1][0]),
                     [c11] "=w"(c[1][1]), [c20] "=w"(c[2][0]), [c21] "=w"(c[2][1]),
                     [c30] "=w"(c[3][0]), [c31] "=w"(c[3][1]), [c40] "=w"(c[4][0]),
                     [c41] "=w"(c[4][1]), [c50] "=w"(c[5][0]), [c51] "=w"(c[5][1]),
                     [c60] "=w"(c[6][0]), [c61] "=w"(c[6][1]), [c70] "=w"(c[7][0]),
                     [c71] "=w"(c[7][1]), PP_GEMM_KLOOP_OPERANDS
                   : PP_GEMM_KLOOP_CLOBBERS);
#undef PP_GEMM_BIAS
#undef PP_GEMM_KE
#undef PP_GEMM_KO
#undef PP_GEMM_LDB_E
#undef PP_GEMM_LDB_O
#undef PP_GEMM_BE_A
#undef PP_GEMM_BO_A
#undef PP_GEMM_BE_B
#undef PP_GEMM_BO_B
}

template <>
PP_INLINE void kloop<1>(float32x4_t (&c)[8][1], const float* pw, const float* pb,
                             size_t kc, intptr_t b_stride) {
  const size_t pairs = kc / 2;
  size_t iters = pairs == 0 ? 0 : (pairs - 1) / 4;
  const size_t rest = pairs - 4 * iters;
#define PP_GEMM_BIAS PP_GEMM_BIAS1
#define PP_GEMM_BE_A "v24"
#define PP_GEMM_BO_A "v26"
#define PP_GEMM_BE_B "v20"
#define PP_GEMM_BO_B "v22"
#define PP_GEMM_KE(W0, W1, BANK) PP_GEMM_K1(W0, W1, PP_GEMM_BE_##BANK)
#define PP_GEMM_KO(W0, W1, BANK) PP_GEMM_K1(W0, W1, PP_GEMM_BO_##BANK)
#define PP_GEMM_LDB1(B) "ld1 {" B ".4s}, [%[pb]], %[stride]\n\t"
#define PP_GEMM_LDB_E(BANK) PP_GEMM_LDB1(PP_GEMM_BE_##BANK)
#define PP_GEMM_LDB_O(BANK) PP_GEMM_LDB1(PP_GEMM_BO_##BANK)
  __asm__ volatile(PP_GEMM_KLOOP
                   : [c00] "=w"(c[0][0]), [c10] "=w"(c[1][0]), [c20] "=w"(c[2][0]),
                     [c30] "=w"(c[3][0]), [c40] "=w"(c[4][0]), [c50] "=w"(c[5][0]),
                     [c60] "=w"(c[6][0]), [c70] "=w"(c[7][0]), PP_GEMM_KLOOP_OPERANDS
                   : PP_GEMM_KLOOP_CLOBBERS);
#undef PP_GEMM_BIAS
#undef PP_GEMM_KE
#undef PP_GEMM_KO
#undef PP_GEMM_LDB_E
#undef PP_GEMM_LDB_O
#undef PP_GEMM_BE_A
#undef PP_GEMM_BO_A
#undef PP_GEMM_BE_B
#undef PP_GEMM_BO_B
}

// kloop<1> when b's rows are 4 floats back to back (b_stride 16 bytes: a GEMM 4 columns wide,
// e.g. Winograd's on a 7x7 plane): k four at a time, ONE LD1 of 4 q registers brings b[k .. k+3]
// and two bring their 32 weights, then 32 FMLA: (3 + 32) / 128 = 0.273 instructions per MAC (0.281
// with the loop's own, 8 k per trip)
// against 19 / 64 = 0.297 with a load per row of b. The rest (kc % 4) k one at a time.
// Trips of 8 k, then 4 k if kc % 8 >= 4, then the rest one by one.
PP_INLINE void kloop_rows4(float32x4_t (&c)[8][1], const float* pw, const float* pb, size_t kc) {
  size_t octs = kc / 8, rest = kc % 4;
#define PP_GEMM_BIAS PP_GEMM_BIAS1
#define PP_GEMM_QUAD                                                                          \
  "ld1 {v16.4s - v19.4s}, [%[pw]], #64\n\t"                                                   \
  "ld1 {v28.4s - v31.4s}, [%[pw]], #64\n\t"                                                   \
  "ld1 {v24.4s - v27.4s}, [%[pb]], #64\n\t"                                                   \
  PP_GEMM_K1("v16", "v17", "v24") PP_GEMM_K1("v18", "v19", "v25")                             \
  PP_GEMM_K1("v28", "v29", "v26") PP_GEMM_K1("v30", "v31", "v27")
  __asm__ volatile("ld1 {v24.4s - v25.4s}, [%[pw]], #32\n\t"
                   PP_GEMM_BIAS
                   "cbz %[octs], 2f\n"
                   "1:\n\t"
                   PP_GEMM_QUAD PP_GEMM_QUAD
                   "subs %[octs], %[octs], #1\n\t"
                   "b.ne 1b\n"
                   "2:\n\t"
                   "tbz %[kc], #2, 5f\n\t"
                   PP_GEMM_QUAD
                   "5:\n\t"
                   "cbz %[rest], 4f\n"
                   "3:\n\t"
                   "ld1 {v16.4s - v17.4s}, [%[pw]], #32\n\t"
                   "ld1 {v24.4s}, [%[pb]], #16\n\t"
                   PP_GEMM_K1("v16", "v17", "v24")
                   "subs %[rest], %[rest], #1\n\t"
                   "b.ne 3b\n"
                   "4:\n\t"
                   : [c00] "=w"(c[0][0]), [c10] "=w"(c[1][0]), [c20] "=w"(c[2][0]),
                     [c30] "=w"(c[3][0]), [c40] "=w"(c[4][0]), [c50] "=w"(c[5][0]),
                     [c60] "=w"(c[6][0]), [c70] "=w"(c[7][0]), [pw] "+r"(pw), [pb] "+r"(pb),
                     [octs] "+r"(octs), [rest] "+r"(rest)
                   : [kc] "r"(kc)
                   : PP_GEMM_KLOOP_CLOBBERS);
#undef PP_GEMM_BIAS
#undef PP_GEMM_QUAD
}

// The k loop of 8-column blocks: the one above, or a core's own (f32-gemm-8x8-minmax-neon-a53.cc).
// The narrower blocks use kloop<1>, narrow(), column().
struct GenericKLoop {
  static PP_INLINE void run(float32x4_t (&c)[8][2], const float* pw, const float* pb, size_t kc, intptr_t b_stride) {
    kloop<2>(c, pw, pb, kc, b_stride);
  }
};

// The activation clamp a kernel call applies: none (min = -inf, max = +inf: the identity, NaN
// included), the lower bound only (max = +inf: FMIN with +inf is the identity, e.g. ReLU), or both.
enum class Clamp { none, lower, both };

// The full-width blocks of a kernel (the ones that do nearly all the work), as a policy of Gemm:
// NR columns, and block(g, b, out), which computes the 8 x NR block at column b of every row of
// b, clamps it as g says (G::clamp) and stores it at out[0..7], advancing them by NR.
// Wide8<KLoop>: 8 columns whose k loop is KLoop; the 8x12 kernel has its own (its file).
template <class KLoop>
struct Wide8 {
  static constexpr int NR = 8;
  static constexpr size_t kUnbiasedMinK = 0;  // never skips zero biases (Gemm's BIASED)
  template <class G>
  static PP_INLINE void block(const G& g, const float* b, float* (&out)[MR]) {
    g.template tile<2, KLoop>(b, out);
  }
};

// BIASED = false: the block's biases are all zero (Winograd's GEMMs have none) and kc is at
// least the Wide policy's kUnbiasedMinK (0: never); its blocks then start their accumulators
// with the first k's FMULs instead of DUPs of the biases (the other blocks read the zeros).
template <Clamp CLAMP, class Wide, bool BIASED = true>
struct Gemm {
  static constexpr Clamp clamp = CLAMP;
  static constexpr bool biased = BIASED;
  const float* packed_w;
  size_t kc;
  intptr_t b_stride;
  const pp_f32_minmax_params* params;

  // acc = clamp(acc) as the call says; the bounds are loaded after the k loop, so they take no
  // register during it.
  template <int R, int V>
  PP_INLINE void apply_clamp(float32x4_t (&acc)[R][V]) const {
    if constexpr (CLAMP != Clamp::none) {
      const float32x4_t vmin = vld1q_dup_f32(&params->min);
      unroll<R>([&](auto i) PP_INLINE_LAMBDA {
        unroll<V>([&](auto v) PP_INLINE_LAMBDA { acc[i][v] = vmaxq_f32(acc[i][v], vmin); });
      });
    }
    if constexpr (CLAMP == Clamp::both) {
      const float32x4_t vmax = vld1q_dup_f32(&params->max);
      unroll<R>([&](auto i) PP_INLINE_LAMBDA {
        unroll<V>([&](auto v) PP_INLINE_LAMBDA { acc[i][v] = vminq_f32(acc[i][v], vmax); });
      });
    }
  }

  // One block of 8 rows x 4*VN columns at b (column n0 of every row): acc = bias + w * b through
  // KLoop (VN = 2) or kloop<1>, clamped, stored at out[0..7] from row 7 down (aliased rows >= mr
  // are overwritten by row mr - 1 last), which advance by 4*VN.
  template <int VN, class KLoop>
  PP_INLINE void tile(const float* b, float* (&out)[MR]) const {
    float32x4_t acc[MR][VN];
    if constexpr (VN == 2) {
      KLoop::run(acc, packed_w, b, kc, b_stride);
    } else if (b_stride == 4 * sizeof(float)) {
      kloop_rows4(acc, packed_w, b, kc);
    } else {
      kloop<VN>(acc, packed_w, b, kc, b_stride);
    }
    apply_clamp(acc);
    unroll<MR>([&](auto i) PP_INLINE_LAMBDA {
      constexpr int M = MR - 1 - PP_CONST(i);
      unroll<VN>([&](auto v) PP_INLINE_LAMBDA { vst1q_f32(out[M] + 4 * v, acc[M][v]); });
      out[M] += 4 * VN;
    });
  }

  // R = 2 or 3 columns, accumulators along m: acc[j][h] holds rows 4h..4h+3 of column j.
  template <int R>
  PP_INLINE void narrow(const float* b, float* (&c)[MR]) const {
    static_assert(R == 2 || R == 3, "one column is column()'s");
    const float* pw = packed_w;
    float32x4_t acc[R][2];
    const float32x4_t bias0 = vld1q_f32(pw), bias1 = vld1q_f32(pw + 4);
    unroll<R>([&](auto j) PP_INLINE_LAMBDA {
      acc[j][0] = bias0;
      acc[j][1] = bias1;
    });
    pw += MR;
    const float* pb = b;
    for (size_t k = kc; k != 0; k--) {
      float32x4_t x;
      if constexpr (R == 2) {
        const float32x2_t lo = vld1_f32(pb);
        x = vcombine_f32(lo, lo);
      } else {
        const float32x2_t lo = vld1_f32(pb);
        x = vld1q_lane_f32(pb + 2, vcombine_f32(lo, lo), 2);
      }
      pb = reinterpret_cast<const float*>(reinterpret_cast<const char*>(pb) + b_stride);
      const float32x4_t w0 = vld1q_f32(pw), w1 = vld1q_f32(pw + 4);
      pw += MR;
      unroll<R>([&](auto j) PP_INLINE_LAMBDA {
        acc[j][0] = vfmaq_laneq_f32(acc[j][0], w0, x, PP_CONST(j));
        acc[j][1] = vfmaq_laneq_f32(acc[j][1], w1, x, PP_CONST(j));
      });
    }
    apply_clamp(acc);
    // Rows from 7 down (aliased rows >= mr are overwritten by row mr - 1 last).
    unroll<MR>([&](auto i) PP_INLINE_LAMBDA {
      constexpr int M = MR - 1 - PP_CONST(i);
      float* o = c[M];
      if constexpr (R == 2) {
        // (acc[0], acc[1]) interleaved: rows 4h, 4h+1 in zip1, rows 4h+2, 4h+3 in zip2.
        const float32x4_t z = (M % 4 < 2) ? vzip1q_f32(acc[0][M / 4], acc[1][M / 4])
                                          : vzip2q_f32(acc[0][M / 4], acc[1][M / 4]);
        vst1_f32(o, (M % 2 == 0) ? vget_low_f32(z) : vget_high_f32(z));
      } else {
        unroll<R>([&](auto j) PP_INLINE_LAMBDA {
          vst1q_lane_f32(o + PP_CONST(j), acc[j][M / 4], M % 4);
        });
      }
    });
  }

  // One column, a GEMV (batch-1 classifier heads, convolutions of 1x1 outputs, the last column
  // of an odd pixel count): narrow()'s layout, one accumulator pair in k order like every other
  // path, so a column's value does not depend on where the driver cuts the pixels (ukernels.h).
  // Contiguous b (b_stride 4): b[k .. k+4) is one load; per 4 k: 8 weight vectors (4 LDP), 1 b
  // load, 8 FMLA = 32 MACs. Strided b: one LD1R per k post-incremented by b_stride (no address
  // arithmetic, and no lane inserts chained through one register), the weights of 4 k in two
  // LD1, 8 k per trip: (8 + 4 + 16 + 2) / 64 MACs.
  PP_INLINE void column(const float* b, float* (&c)[MR]) const {
    const float* pw = packed_w;
    float32x4_t acc[1][2] = {{vld1q_f32(pw), vld1q_f32(pw + 4)}};
    pw += MR;
    const char* pb = reinterpret_cast<const char*>(b);
    size_t k = kc;
    auto step4 = [&](float32x4_t x) PP_INLINE_LAMBDA {
      unroll<4>([&](auto j) PP_INLINE_LAMBDA {
        acc[0][0] = vfmaq_laneq_f32(acc[0][0], vld1q_f32(pw + 8 * j), x, PP_CONST(j));
        acc[0][1] = vfmaq_laneq_f32(acc[0][1], vld1q_f32(pw + 8 * j + 4), x, PP_CONST(j));
      });
      pw += 4 * MR;
    };
    if (b_stride == static_cast<intptr_t>(sizeof(float))) {
      // 8 k per iteration: the loop's own instructions amortised over 64 MACs
      for (; k >= 8; k -= 8, pb += 8 * sizeof(float)) {
        const float32x4_t x0 = vld1q_f32(reinterpret_cast<const float*>(pb));
        const float32x4_t x1 = vld1q_f32(reinterpret_cast<const float*>(pb) + 4);
        step4(x0);
        step4(x1);
      }
      if (k >= 4) {
        step4(vld1q_f32(reinterpret_cast<const float*>(pb)));
        k -= 4;
        pb += 4 * sizeof(float);
      }
    } else if (k >= 8) {
      size_t trips = k / 8;
      k %= 8;
#define PP_GEMM_COL_FMLA(H, W, B) "fmla %[a" H "].4s, v" W ".4s, v" B ".4s\n\t"
#define PP_GEMM_COL_LDB(B) "ld1r {v" B ".4s}, [%[pb]], %[stride]\n\t"
#define PP_GEMM_COL4                                                                              \
  "ld1 {v16.4s - v19.4s}, [%[pw]], #64\n\t"                                                     \
  "ld1 {v20.4s - v23.4s}, [%[pw]], #64\n\t"                                                     \
  PP_GEMM_COL_LDB("24") PP_GEMM_COL_LDB("25") PP_GEMM_COL_LDB("26") PP_GEMM_COL_LDB("27")         \
  PP_GEMM_COL_FMLA("0", "16", "24") PP_GEMM_COL_FMLA("1", "17", "24")                             \
  PP_GEMM_COL_FMLA("0", "18", "25") PP_GEMM_COL_FMLA("1", "19", "25")                             \
  PP_GEMM_COL_FMLA("0", "20", "26") PP_GEMM_COL_FMLA("1", "21", "26")                             \
  PP_GEMM_COL_FMLA("0", "22", "27") PP_GEMM_COL_FMLA("1", "23", "27")
      __asm__ volatile("1:\n\t" PP_GEMM_COL4 PP_GEMM_COL4
                       "subs %[trips], %[trips], #1\n\t"
                       "b.ne 1b\n\t"
                       : [a0] "+w"(acc[0][0]), [a1] "+w"(acc[0][1]), [pw] "+r"(pw), [pb] "+r"(pb),
                         [trips] "+r"(trips)
                       : [stride] "r"(b_stride)
                       : "v16", "v17", "v18", "v19", "v20", "v21", "v22", "v23", "v24", "v25", "v26",
                         "v27", "cc", "memory");
#undef PP_GEMM_COL4
#undef PP_GEMM_COL_LDB
#undef PP_GEMM_COL_FMLA
    }
    for (; k != 0; k--, pb += b_stride, pw += MR) {
      const float32x4_t x = vld1q_dup_f32(reinterpret_cast<const float*>(pb));
      acc[0][0] = vfmaq_f32(acc[0][0], vld1q_f32(pw), x);
      acc[0][1] = vfmaq_f32(acc[0][1], vld1q_f32(pw + 4), x);
    }
    apply_clamp(acc);
    // Rows from 7 down (aliased rows >= mr are overwritten by row mr - 1 last).
    unroll<MR>([&](auto i) PP_INLINE_LAMBDA {
      constexpr int M = MR - 1 - PP_CONST(i);
      vst1q_lane_f32(c[M], acc[0][M / 4], M % 4);
    });
  }

  PP_INLINE void run(size_t mr, size_t nc, const float* b, float* c, size_t c_stride) const {
    float* out[MR];
    unroll<MR>([&](auto m) PP_INLINE_LAMBDA {
      const size_t row = PP_CONST(m) < mr ? PP_CONST(m) : mr - 1;
      out[m] = reinterpret_cast<float*>(reinterpret_cast<char*>(c) + row * c_stride);
    });
    for (; nc >= Wide::NR; nc -= Wide::NR, b += Wide::NR) Wide::block(*this, b, out);
    if constexpr (Wide::NR > 8) {
      if (nc >= 8) {
        tile<2, GenericKLoop>(b, out);
        b += 8;
        nc -= 8;
      }
    }
    if (nc >= 4) {
      tile<1, GenericKLoop>(b, out);
      b += 4;
      nc -= 4;
    }
    switch (nc) {
      case 1: column(b, out); break;
      case 2: narrow<2>(b, out); break;
      case 3: narrow<3>(b, out); break;
      default: break;
    }
  }
};

// Whether the packed block's 8 biases are all zero (of either sign).
PP_INLINE bool zero_bias(const float* packed_w) {
  const uint32x4_t bits = vorrq_u32(vreinterpretq_u32_f32(vld1q_f32(packed_w)),
                                    vreinterpretq_u32_f32(vld1q_f32(packed_w + 4)));
  return vmaxvq_u32(vshlq_n_u32(bits, 1)) == 0;
}

}  // namespace gemm_neon
}  // namespace pyprune

// Defines the extern "C" microkernel `name` (8 x Wide::NR) whose full-width blocks are WIDE's
// (a policy like Wide8<GenericKLoop>). The clamp is picked once per call: none without an
// activation (min = -inf, max = +inf), the lower bound alone when max = +inf (ReLU); an
// unclamped call whose biases are zero skips them where WIDE can (Gemm's BIASED).
#define PP_F32_GEMM_NEON_UKERNEL_WITH(name, WIDE)                                                     \
  extern "C" __attribute__((flatten)) void name(                                                     \
      size_t mr, size_t nc, size_t kc, const float* b, size_t b_stride, const float* packed_w,         \
      float* c, size_t c_stride, const pp_f32_minmax_params* params) {                               \
    PP_ASSERT(mr >= 1 && mr <= 8 && nc >= 1 && kc >= 1);                                             \
    using pyprune::gemm_neon::Clamp;                                                                 \
    using pyprune::gemm_neon::Gemm;                                                                  \
    const intptr_t stride = static_cast<intptr_t>(b_stride);                                         \
    if (params->max != __builtin_inff()) {                                                           \
      Gemm<Clamp::both, WIDE>{packed_w, kc, stride, params}.run(mr, nc, b, c, c_stride);             \
    } else if (params->min != -__builtin_inff()) {                                                   \
      Gemm<Clamp::lower, WIDE>{packed_w, kc, stride, params}.run(mr, nc, b, c, c_stride);            \
    } else {                                                                                         \
      if constexpr (WIDE::kUnbiasedMinK != 0) {                                                      \
        if (kc >= WIDE::kUnbiasedMinK && pyprune::gemm_neon::zero_bias(packed_w)) {                 \
          Gemm<Clamp::none, WIDE, false>{packed_w, kc, stride, params}.run(mr, nc, b, c, c_stride);  \
          return;                                                                                    \
        }                                                                                            \
      }                                                                                              \
      Gemm<Clamp::none, WIDE>{packed_w, kc, stride, params}.run(mr, nc, b, c, c_stride);             \
    }                                                                                                \
  }
#define PP_F32_GEMM_NEON_UKERNEL(name) \
  PP_F32_GEMM_NEON_UKERNEL_WITH(name, pyprune::gemm_neon::Wide8<pyprune::gemm_neon::GenericKLoop>)
