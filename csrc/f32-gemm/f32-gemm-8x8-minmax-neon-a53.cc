// f32 GEMM (1x1 conv, NCHW) + bias + min/max clamp, NEON, 8 output channels x 8 pixels per block,
// its k loop scheduled for the in-order Cortex-A53 class (A53, A35, A55: Raspberry Pi 3, Zero 2 W).
//
// The generic kernel (gemm-neon.h) loads a k pair's 8 vectors with three LD1 before its 32 FMLA.
// On the A53 a 128-bit NEON load takes the load pipe two cycles and issues beside nothing, so the
// loads cost 16 cycles per 32 FMLA cycles. What does dual-issue there: an FMLA with a 64-bit load
// into a general register (LDR x) or a pointer update, and a 64-bit NEON load (LDR d) with an
// INS. So here each vector of the next pair comes as LDR d (lower half), LDR x, INS v.d[1]
// (upper half), and the pair is 8 blocks of 4 FMLA, each block carrying one vector's three
// loads: LDR d of vector j beside the INS of vector j - 1, then FMLA, LDR x of vector j beside
// the next FMLA, two more FMLA (a pointer update beside one). About one cycle in five is then
// not an FMLA's: 40 cycles per pair instead of 48. Everything else (the bias, the narrow blocks,
// the odd k, the clamp and stores) is the generic kernel's.
//
// Registers: bank A and bank B as in gemm-neon.h, listed here in load order: w[k] rows 0-3, b[k]
// (two vectors), w[k] rows 4-7, w[k+1] rows 0-3, b[k+1] (two), w[k+1] rows 4-7. The pair on bank
// X loads the next pair into bank Y; its last vector's upper half waits in t7 and is inserted in
// the next pair's first block (its rows 4-7 of k+1 are used only from the seventh block on).
// Reads exactly what the generic kernel reads (nothing past row kc - 1 of b or the packed block).
//
// llvm-mca cannot confirm the gain (scripts/arm_cost, gemm-loop): LLVM's Cortex-A53 model books
// any instruction after an FMLA only once the FMLA has written back (its in-order write-back
// rule), so it rates every interleaved schedule, this one and XNNPACK's A53 kernels included,
// far slower than grouped loads, and it gives LDR q and LDR d one load cycle alike.
#include "gemm-neon.h"

namespace pyprune {
namespace gemm_neon {
namespace {

#define PP_A53_BANK_A "16", "24", "25", "17", "18", "26", "27", "19"
#define PP_A53_BANK_B "28", "20", "21", "29", "30", "22", "23", "31"

#define PP_A53_F(M, V, B, W, L) "fmla %[c" M V "].4s, v" B ".4s, v" W ".s[" L "]\n\t"
#define PP_A53_LDD(V, ADDRESS) "ldr d" V ", " ADDRESS "\n\t"
#define PP_A53_LDX(T, ADDRESS) "ldr " T ", " ADDRESS "\n\t"
#define PP_A53_INS(V, T) "ins v" V ".d[1], " T "\n\t"
#define PP_A53_ADD_PB "add %[pb], %[pb], %[stride]\n\t"
#define PP_A53_ADD_PW "add %[pw], %[pw], #64\n\t"

// Rows M0 and M1 (lanes L0, L1 of the weight vector W) of one k on the b vectors B0, B1: 4 FMLA,
// with a vector's loads (LDD, LDX), the previous vector's INS and one more instruction between.
#define PP_A53_BLOCK(LDD, INS, LDX, EXTRA, M0, M1, W, L0, L1, B0, B1)                               \
  LDD INS PP_A53_F(M0, "0", B0, W, L0) LDX PP_A53_F(M0, "1", B1, W, L0) PP_A53_F(M1, "0", B0, W, L1) \
      EXTRA PP_A53_F(M1, "1", B1, W, L1)

// The k pair on bank X (x0..x7 in load order), loading the next pair into bank Y; CTRL is one more
// instruction (the loop counter) placed beside an FMLA.
#define PP_A53_PAIR_NEXT_(x0, x1, x2, x3, x4, x5, x6, x7, y0, y1, y2, y3, y4, y5, y6, y7, CTRL)                 \
  PP_A53_BLOCK(PP_A53_LDD(y0, "[%[pw]]"), PP_A53_INS(x7, "%[t7]"), PP_A53_LDX("%[t]", "[%[pw], #8]"), "", "0", \
               "1", x0, "0", "1", x1, x2)                                                                       \
  PP_A53_BLOCK(PP_A53_LDD(y1, "[%[pb]]"), PP_A53_INS(y0, "%[t]"), PP_A53_LDX("%[t]", "[%[pb], #8]"), "", "2",  \
               "3", x0, "2", "3", x1, x2)                                                                       \
  PP_A53_BLOCK(PP_A53_LDD(y2, "[%[pb], #16]"), PP_A53_INS(y1, "%[t]"), PP_A53_LDX("%[t]", "[%[pb], #24]"),     \
               PP_A53_ADD_PB, "4", "5", x3, "0", "1", x1, x2)                                                  \
  PP_A53_BLOCK(PP_A53_LDD(y3, "[%[pw], #16]"), PP_A53_INS(y2, "%[t]"), PP_A53_LDX("%[t]", "[%[pw], #24]"), "", \
               "6", "7", x3, "2", "3", x1, x2)                                                                  \
  PP_A53_BLOCK(PP_A53_LDD(y4, "[%[pw], #32]"), PP_A53_INS(y3, "%[t]"), PP_A53_LDX("%[t]", "[%[pw], #40]"),     \
               CTRL, "0", "1", x4, "0", "1", x5, x6)                                                            \
  PP_A53_BLOCK(PP_A53_LDD(y5, "[%[pb]]"), PP_A53_INS(y4, "%[t]"), PP_A53_LDX("%[t]", "[%[pb], #8]"), "", "2",  \
               "3", x4, "2", "3", x5, x6)                                                                       \
  PP_A53_BLOCK(PP_A53_LDD(y6, "[%[pb], #16]"), PP_A53_INS(y5, "%[t]"), PP_A53_LDX("%[t]", "[%[pb], #24]"),     \
               PP_A53_ADD_PB, "4", "5", x7, "0", "1", x5, x6)                                                  \
  PP_A53_BLOCK(PP_A53_LDD(y7, "[%[pw], #48]"), PP_A53_INS(y6, "%[t]"), PP_A53_LDX("%[t7]", "[%[pw], #56]"),    \
               PP_A53_ADD_PW, "6", "7", x7, "2", "3", x5, x6)
#define PP_A53_PAIR_NEXT(...) PP_A53_PAIR_NEXT_(__VA_ARGS__)

// The last k pair, on bank X: nothing more to load.
#define PP_A53_PAIR_LAST_(x0, x1, x2, x3, x4, x5, x6, x7)                                \
  PP_A53_BLOCK("", PP_A53_INS(x7, "%[t7]"), "", "", "0", "1", x0, "0", "1", x1, x2)      \
  PP_A53_BLOCK("", "", "", "", "2", "3", x0, "2", "3", x1, x2)                           \
  PP_A53_BLOCK("", "", "", "", "4", "5", x3, "0", "1", x1, x2)                           \
  PP_A53_BLOCK("", "", "", "", "6", "7", x3, "2", "3", x1, x2)                           \
  PP_A53_BLOCK("", "", "", "", "0", "1", x4, "0", "1", x5, x6)                           \
  PP_A53_BLOCK("", "", "", "", "2", "3", x4, "2", "3", x5, x6)                           \
  PP_A53_BLOCK("", "", "", "", "4", "5", x7, "0", "1", x5, x6)                           \
  PP_A53_BLOCK("", "", "", "", "6", "7", x7, "2", "3", x5, x6)
#define PP_A53_PAIR_LAST(...) PP_A53_PAIR_LAST_(__VA_ARGS__)

// pairs = kc / 2; the first pair is loaded whole into bank A (its last upper half into t7 too),
// then iters = (pairs - 1) / 4 trips of four pairs, then rest = 1..4 pairs, then the odd k: the
// generic kernel's structure.
struct A53KLoop {
  static PP_INLINE void run(float32x4_t (&c)[8][2], const float* pw, const float* pb, size_t kc, intptr_t b_stride) {
    const size_t pairs = kc / 2;
    size_t iters = pairs == 0 ? 0 : (pairs - 1) / 4;
    const size_t rest = pairs - 4 * iters;
    uint64_t t, t7;
    __asm__ volatile(
        "ld1 {v24.4s - v25.4s}, [%[pw]], #32\n\t"
        PP_GEMM_BIAS2
        "cbz %[pairs], 7f\n\t"
        "ld1 {v16.4s - v19.4s}, [%[pw]]\n\t"
        "ldr %[t7], [%[pw], #56]\n\t"
        "add %[pw], %[pw], #64\n\t"
        "ld1 {v24.4s - v25.4s}, [%[pb]], %[stride]\n\t"
        "ld1 {v26.4s - v27.4s}, [%[pb]], %[stride]\n\t"
        "cbz %[iters], 2f\n"
        "1:\n\t"
        PP_A53_PAIR_NEXT(PP_A53_BANK_A, PP_A53_BANK_B, "")
        PP_A53_PAIR_NEXT(PP_A53_BANK_B, PP_A53_BANK_A, "")
        PP_A53_PAIR_NEXT(PP_A53_BANK_A, PP_A53_BANK_B, "")
        PP_A53_PAIR_NEXT(PP_A53_BANK_B, PP_A53_BANK_A, "subs %[iters], %[iters], #1\n\t")
        "b.ne 1b\n"
        "2:\n\t"
        "cmp %[rest], #1\n\t"
        "b.eq 3f\n\t"
        PP_A53_PAIR_NEXT(PP_A53_BANK_A, PP_A53_BANK_B, "")
        "cmp %[rest], #2\n\t"
        "b.eq 4f\n\t"
        PP_A53_PAIR_NEXT(PP_A53_BANK_B, PP_A53_BANK_A, "")
        "cmp %[rest], #3\n\t"
        "b.eq 3f\n\t"
        PP_A53_PAIR_NEXT(PP_A53_BANK_A, PP_A53_BANK_B, "")
        "4:\n\t"
        PP_A53_PAIR_LAST(PP_A53_BANK_B)
        "b 7f\n"
        "3:\n\t"
        PP_A53_PAIR_LAST(PP_A53_BANK_A)
        "7:\n\t"
        "tbz %[kc], #0, 8f\n\t"
        "ld1 {v16.4s - v17.4s}, [%[pw]], #32\n\t"
        "ld1 {v24.4s - v25.4s}, [%[pb]]\n\t"
        PP_GEMM_K2("v16", "v17", "v24", "v25")
        "8:\n\t"
        : [c00] "=w"(c[0][0]), [c01] "=w"(c[0][1]), [c10] "=w"(c[1][0]), [c11] "=w"(c[1][1]),
          [c20] "=w"(c[2][0]), [c21] "=w"(c[2][1]), [c30] "=w"(c[3][0]), [c31] "=w"(c[3][1]),
          [c40] "=w"(c[4][0]), [c41] "=w"(c[4][1]), [c50] "=w"(c[5][0]), [c51] "=w"(c[5][1]),
          [c60] "=w"(c[6][0]), [c61] "=w"(c[6][1]), [c70] "=w"(c[7][0]), [c71] "=w"(c[7][1]),
          [pw] "+r"(pw), [pb] "+r"(pb), [iters] "+r"(iters), [t] "=&r"(t), [t7] "=&r"(t7)
        : [stride] "r"(b_stride), [pairs] "r"(pairs), [rest] "r"(rest), [kc] "r"(kc)
        : PP_GEMM_KLOOP_CLOBBERS);
  }
};

}  // namespace
}  // namespace gemm_neon
}  // namespace pyprune

PP_F32_GEMM_NEON_UKERNEL_WITH(pp_f32_gemm_minmax_ukernel_8x8__neon_a53,
                              pyprune::gemm_neon::Wide8<pyprune::gemm_neon::A53KLoop>)
