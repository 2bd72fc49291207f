// f32 GEMM (1x1 conv, NCHW) + bias + min/max clamp, NEON, 8 output channels x 12 pixels per block.
//
// The 8x8 kernel (gemm-neon.h) spends 3 loads on 128 MACs per k pair: 0.273 instructions per MAC
// in its k loop. Here a block holds 24 accumulators, so a k pair is 192 MACs for the same 3 loads:
// ONE LD1 of 4 q registers brings the 16 packed weights of k and k+1 (8 per k), one LD1 of 3 q
// registers per k brings b[k][n0 .. n0+12) (post-incremented by b_stride), then 2 * 24 FMLA by
// element: (3 + 48) / 192 = 0.266 instructions per MAC, and the loop runs 8 pairs per trip (2
// more instructions per 1536 MACs).
//
// Registers are all fixed: acc[m][0..2] in v(8+3m) .. v(10+3m) (a row in 3 consecutive registers,
// so it is stored by one ST1), weights of the pair in v0-v3 (w[k] rows 0-3, rows 4-7, w[k+1]
// rows 0-3, rows 4-7), b[k] in v4-v6. 24 accumulators leave no room for a second bank: b[k+1]
// is loaded into v4-v6 after the 24 FMLAs of k have read them, and the next weights after the
// pair, so the loads do not run ahead of their FMLAs in program order. A core that renames
// registers (Cortex-A72, A76) issues them early anyway; an in-order one waits for each (the
// 8x8 kernels, with two banks, are the variants for it).
//
// One asm statement per block: the biases (24 DUP; an unclamped call whose biases are all zero,
// as Winograd's are, starts with the first k's 24 FMUL instead), the k loop (8-pair trips, then
// single pairs, then the odd k), the clamp (none, FMAX only for max = +inf, or FMAX and FMIN) and the
// stores, rows from 7 down (rows >= mr alias row mr - 1, whose own store comes last). All 32
// vector registers are clobbered: the callee-saved d8-d15 are saved once per call. Columns left
// over (nc % 12) go to gemm-neon.h's blocks of 8 and 4 and its 1-3 column paths.
// Reads: exactly b[k][n0 .. n0+12) for k < kc and the 8 + 8 * kc floats of the packed block.
#include "gemm-neon.h"

namespace pyprune {
namespace gemm_neon {
namespace {

#define PP_G12_F(OP, C, B, W, L) OP " v" C ".4s, v" B ".4s, v" W ".s[" L "]\n\t"
#define PP_G12_ROW(OP, C0, C1, C2, W, L) PP_G12_F(OP, C0, "4", W, L) PP_G12_F(OP, C1, "5", W, L) PP_G12_F(OP, C2, "6", W, L)
// acc[m][0..2] OP= b[k] * w[k][m] for the 8 rows (OP fmla: +=, fmul: =): w[k] rows 0-3 in W0, rows 4-7 in W1.
#define PP_G12_KOP(OP, W0, W1)                                                                      \
  PP_G12_ROW(OP, "8", "9", "10", W0, "0") PP_G12_ROW(OP, "11", "12", "13", W0, "1")                 \
  PP_G12_ROW(OP, "14", "15", "16", W0, "2") PP_G12_ROW(OP, "17", "18", "19", W0, "3")               \
  PP_G12_ROW(OP, "20", "21", "22", W1, "0") PP_G12_ROW(OP, "23", "24", "25", W1, "1")               \
  PP_G12_ROW(OP, "26", "27", "28", W1, "2") PP_G12_ROW(OP, "29", "30", "31", W1, "3")
#define PP_G12_K(W0, W1) PP_G12_KOP("fmla", W0, W1)
#define PP_G12_LDB "ld1 {v4.4s - v6.4s}, [%[pb]], %[stride]\n\t"
#define PP_G12_PAIR "ld1 {v0.4s - v3.4s}, [%[pw]], #64\n\t" PP_G12_LDB PP_G12_K("0", "1") PP_G12_LDB PP_G12_K("2", "3")
#define PP_G12_PAIR4 PP_G12_PAIR PP_G12_PAIR PP_G12_PAIR PP_G12_PAIR

#define PP_G12_D(C, W, L) "dup v" C ".4s, v" W ".s[" L "]\n\t"
#define PP_G12_BIAS_ROW(C0, C1, C2, W, L) PP_G12_D(C0, W, L) PP_G12_D(C1, W, L) PP_G12_D(C2, W, L)
#define PP_G12_BIAS                                                                                 \
  "ld1 {v0.4s - v1.4s}, [%[pw]], #32\n\t"                                                           \
  PP_G12_BIAS_ROW("8", "9", "10", "0", "0") PP_G12_BIAS_ROW("11", "12", "13", "0", "1")             \
  PP_G12_BIAS_ROW("14", "15", "16", "0", "2") PP_G12_BIAS_ROW("17", "18", "19", "0", "3")           \
  PP_G12_BIAS_ROW("20", "21", "22", "1", "0") PP_G12_BIAS_ROW("23", "24", "25", "1", "1")           \
  PP_G12_BIAS_ROW("26", "27", "28", "1", "2") PP_G12_BIAS_ROW("29", "30", "31", "1", "3")
// Without biases (pw past them): the first 8 k pairs (a loop trip), the first k by FMUL.
#define PP_G12_FIRST_TRIP                                                                           \
  "ld1 {v0.4s - v3.4s}, [%[pw]], #64\n\t" PP_G12_LDB PP_G12_KOP("fmul", "0", "1") PP_G12_LDB PP_G12_K("2", "3") \
  PP_G12_PAIR PP_G12_PAIR PP_G12_PAIR PP_G12_PAIR4

// OP every accumulator with v<B> (the bound, replicated).
#define PP_G12_EACH3(OP, B, C0, C1, C2) \
  OP " v" C0 ".4s, v" C0 ".4s, v" B ".4s\n\t" OP " v" C1 ".4s, v" C1 ".4s, v" B ".4s\n\t" \
  OP " v" C2 ".4s, v" C2 ".4s, v" B ".4s\n\t"
#define PP_G12_EACH(OP, B)                                                                          \
  PP_G12_EACH3(OP, B, "8", "9", "10") PP_G12_EACH3(OP, B, "11", "12", "13")                         \
  PP_G12_EACH3(OP, B, "14", "15", "16") PP_G12_EACH3(OP, B, "17", "18", "19")                       \
  PP_G12_EACH3(OP, B, "20", "21", "22") PP_G12_EACH3(OP, B, "23", "24", "25")                       \
  PP_G12_EACH3(OP, B, "26", "27", "28") PP_G12_EACH3(OP, B, "29", "30", "31")
#define PP_G12_CLAMP_NONE ""
#define PP_G12_CLAMP_LOWER "ld1r {v0.4s}, [%[params]]\n\t" PP_G12_EACH("fmax", "0")
#define PP_G12_CLAMP_BOTH "ld2r {v0.4s, v1.4s}, [%[params]]\n\t" PP_G12_EACH("fmax", "0") PP_G12_EACH("fmin", "1")

#define PP_G12_ST(C0, C2, O) "st1 {v" C0 ".4s - v" C2 ".4s}, [%[" O "]], #48\n\t"
#define PP_G12_STORE                                                                                \
  PP_G12_ST("29", "31", "o7") PP_G12_ST("26", "28", "o6") PP_G12_ST("23", "25", "o5")               \
  PP_G12_ST("20", "22", "o4") PP_G12_ST("17", "19", "o3") PP_G12_ST("14", "16", "o2")               \
  PP_G12_ST("11", "13", "o1") PP_G12_ST("8", "10", "o0")

// iters trips of 8 pairs, then rest (0..7) single pairs, then the odd k (kc & 1).
#define PP_G12_BLOCK(START, CLAMP)                                                                  \
  __asm__ volatile(START                                                                            \
                   "cbz %[iters], 2f\n"                                                             \
                   "1:\n\t"                                                                         \
                   PP_G12_PAIR4 PP_G12_PAIR4                                                        \
                   "subs %[iters], %[iters], #1\n\t"                                                \
                   "b.ne 1b\n"                                                                      \
                   "2:\n\t"                                                                         \
                   "cbz %[rest], 4f\n"                                                              \
                   "3:\n\t"                                                                         \
                   PP_G12_PAIR                                                                      \
                   "subs %[rest], %[rest], #1\n\t"                                                  \
                   "b.ne 3b\n"                                                                      \
                   "4:\n\t"                                                                         \
                   "tbz %[kc], #0, 5f\n\t"                                                          \
                   "ld1 {v0.4s - v1.4s}, [%[pw]]\n\t"                                               \
                   "ld1 {v4.4s - v6.4s}, [%[pb]]\n\t"                                               \
                   PP_G12_K("0", "1")                                                               \
                   "5:\n\t"                                                                         \
                   CLAMP PP_G12_STORE                                                               \
                   : [pw] "+r"(pw), [pb] "+r"(pb), [iters] "+r"(iters), [rest] "+r"(rest),          \
                     [o0] "+r"(out[0]), [o1] "+r"(out[1]), [o2] "+r"(out[2]), [o3] "+r"(out[3]),    \
                     [o4] "+r"(out[4]), [o5] "+r"(out[5]), [o6] "+r"(out[6]), [o7] "+r"(out[7])     \
                   : [stride] "r"(g.b_stride), [kc] "r"(g.kc), [params] "r"(g.params)               \
                   : "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8", "v9", "v10", "v11",      \
                     "v12", "v13", "v14", "v15", "v16", "v17", "v18", "v19", "v20", "v21", "v22",   \
                     "v23", "v24", "v25", "v26", "v27", "v28", "v29", "v30", "v31", "cc", "memory")

struct Wide12 {
  static constexpr int NR = 12;
  static constexpr size_t kUnbiasedMinK = 16;  // the unbiased block starts with a whole loop trip
  template <class G>
  static PP_INLINE void block(const G& g, const float* b, float* (&out)[MR]) {
    const float* pb = b;
    if constexpr (!G::biased) {
      const float* pw = g.packed_w + MR;
      size_t iters = g.kc / 16 - 1, rest = g.kc / 2 % 8;
      static_assert(G::clamp == Clamp::none, "only unclamped calls skip zero biases");
      PP_G12_BLOCK(PP_G12_FIRST_TRIP, PP_G12_CLAMP_NONE);
    } else {
      const float* pw = g.packed_w;
      size_t iters = g.kc / 16, rest = g.kc / 2 % 8;
      if constexpr (G::clamp == Clamp::none) {
        PP_G12_BLOCK(PP_G12_BIAS, PP_G12_CLAMP_NONE);
      } else if constexpr (G::clamp == Clamp::lower) {
        PP_G12_BLOCK(PP_G12_BIAS, PP_G12_CLAMP_LOWER);
      } else {
        PP_G12_BLOCK(PP_G12_BIAS, PP_G12_CLAMP_BOTH);
      }
    }
  }
};

}  // namespace
}  // namespace gemm_neon
}  // namespace pyprune

PP_F32_GEMM_NEON_UKERNEL_WITH(pp_f32_gemm_minmax_ukernel_8x12__neon, pyprune::gemm_neon::Wide12)
