// f32 Winograd F(4x4, 3x3) input transform, NEON, 4 tiles per vector.
//
// A group of 4 tiles is one asm statement that keeps the transform in registers, in two halves:
// columns 0-2 of w = d B, then columns 3-5. Each half loads the 6 patch rows (LD4 at the row
// splits 4 tiles' columns 0-3, LD4 one tile further on columns 4-7), keeps its 3 columns of
// each row's transform (18 vectors), then transforms each of those columns (V = B^T w) and
// stores its 6 positions through one pointer, post-incremented by 6 positions. Loading each
// row twice (12 more loads per group) costs less than staging w in memory (36 stores and 18
// loads), and every result is written where an input dies, so no register is copied (from
// intrinsics GCC copied LD4's results before each in-place FMLA, and staged w in memory: about
// half again the arithmetic).
// Registers: row i's LD4 v(4i) .. v(4i + 3), which keeps the half's 3 columns of that row; the
// other LD4 in v24-v27; scratch v29-v30; k = {4, -4, -5, 0}, an operand (GCC's pick is one of
// the two vector registers not clobbered).
// B^T d, factored: t0 = d4 - 4 d2, t1 = d3 - 4 d1, t2 = d4 - d2, t3 = d3 - d1;
// v0 = 4 d0 + (t0 - d2), v1 = t0 + t1, v2 = t0 - t1, v3 = t2 + 2 t3, v4 = t2 - 2 t3,
// v5 = d5 - 5 d3 + 4 d1.
#include <arm_neon.h>

#include <cstddef>

#include "pyprune/ukernels.h"

namespace {

// Columns 0-2 of a row, from d0-d3 in A0-A3 and d4 in v24: w0 into A2, w1 into A1, w2 into A3.
#define PP_WI_ROW_LO(A0, A1, A2, A3)                                                             \
  "ld4 {v" A0 ".4s - v" A3 ".4s}, [%[x]], %[in_stride]\n\t"                                      \
  "ld4 {v24.4s - v27.4s}, [%[x4]], %[in_stride]\n\t"                                             \
  "fmla v24.4s, v" A2 ".4s, %[k].s[1]\n\t"       /* t0 */                                        \
  "fsub v" A2 ".4s, v24.4s, v" A2 ".4s\n\t"                                                      \
  "fmla v" A2 ".4s, v" A0 ".4s, %[k].s[0]\n\t"   /* w0 */                                        \
  "fmla v" A3 ".4s, v" A1 ".4s, %[k].s[1]\n\t"   /* t1 */                                        \
  "fadd v" A1 ".4s, v24.4s, v" A3 ".4s\n\t"      /* w1 */                                        \
  "fsub v" A3 ".4s, v24.4s, v" A3 ".4s\n\t"      /* w2 */
// Columns 3-5 of a row, from d4-d5 in A0-A1 and d0-d3 in v24-v27: w3 into A2, w4 into A0, w5
// into A1.
#define PP_WI_ROW_HI(A0, A1, A2, A3)                                                             \
  "ld4 {v" A0 ".4s - v" A3 ".4s}, [%[x4]], %[in_stride]\n\t"                                     \
  "ld4 {v24.4s - v27.4s}, [%[x]], %[in_stride]\n\t"                                              \
  "fmla v" A1 ".4s, v27.4s, %[k].s[2]\n\t"                                                       \
  "fmla v" A1 ".4s, v25.4s, %[k].s[0]\n\t"       /* w5 */                                        \
  "fsub v" A0 ".4s, v" A0 ".4s, v26.4s\n\t"      /* t2 */                                        \
  "fsub v27.4s, v27.4s, v25.4s\n\t"              /* t3 */                                        \
  "fadd v27.4s, v27.4s, v27.4s\n\t"                                                              \
  "fadd v" A2 ".4s, v" A0 ".4s, v27.4s\n\t"      /* w3 */                                        \
  "fsub v" A0 ".4s, v" A0 ".4s, v27.4s\n\t"      /* w4 */
#define PP_WI_ROWS(ROW)                                                                          \
  ROW("0", "1", "2", "3") ROW("4", "5", "6", "7") ROW("8", "9", "10", "11")                      \
  ROW("12", "13", "14", "15") ROW("16", "17", "18", "19") ROW("20", "21", "22", "23")
#define PP_WI_ST(E) "st1 {v" E ".4s}, [%[out]], %[out_step]\n\t"
// A column of w in E0 .. E5 (rows 0-5): its 6 positions stored, v0 .. v5 from E2, E1, E4, E0,
// v29, E5.
#define PP_WI_COLUMN(E0, E1, E2, E3, E4, E5)                                                     \
  "fsub v29.4s, v" E4 ".4s, v" E2 ".4s\n\t"      /* t2 */                                        \
  "fsub v30.4s, v" E3 ".4s, v" E1 ".4s\n\t"      /* t3 */                                        \
  "fmla v" E5 ".4s, v" E3 ".4s, %[k].s[2]\n\t"                                                   \
  "fmla v" E5 ".4s, v" E1 ".4s, %[k].s[0]\n\t"   /* v5 */                                        \
  "fmla v" E4 ".4s, v" E2 ".4s, %[k].s[1]\n\t"   /* t0 */                                        \
  "fsub v" E2 ".4s, v" E4 ".4s, v" E2 ".4s\n\t"                                                  \
  "fmla v" E2 ".4s, v" E0 ".4s, %[k].s[0]\n\t"   /* v0 */                                        \
  "fmla v" E3 ".4s, v" E1 ".4s, %[k].s[1]\n\t"   /* t1 */                                        \
  "fadd v" E1 ".4s, v" E4 ".4s, v" E3 ".4s\n\t"  /* v1 */                                        \
  "fsub v" E4 ".4s, v" E4 ".4s, v" E3 ".4s\n\t"  /* v2 */                                        \
  "fadd v30.4s, v30.4s, v30.4s\n\t"                                                              \
  "fadd v" E0 ".4s, v29.4s, v30.4s\n\t"          /* v3 */                                        \
  "fsub v29.4s, v29.4s, v30.4s\n\t"              /* v4 */                                        \
  PP_WI_ST(E2) PP_WI_ST(E1) PP_WI_ST(E4) PP_WI_ST(E0) PP_WI_ST("29") PP_WI_ST(E5)
// Back from position 36 + j to j + 1.
#define PP_WI_NEXT "sub %[out], %[out], %[out_back]\n\t"

}  // namespace

extern "C" void pp_f32_winograd_input_ukernel_4x4__neon(size_t tiles, const float* input, size_t input_stride,
                                                        float* output, size_t output_stride) {
  PP_ASSERT(tiles >= 1);
  const float32x4_t k = {4.0f, -4.0f, -5.0f, 0.0f};
  const size_t rows_back = 6 * input_stride, out_step = 6 * output_stride, out_back = 35 * output_stride;
  for (size_t t = 0; t < tiles; t += 4) {
    const float* x = input + 4 * t;
    const float* x4 = x + 4;
    float* out = output + t;
    __asm__ volatile(PP_WI_ROWS(PP_WI_ROW_LO)
                     PP_WI_COLUMN("2", "6", "10", "14", "18", "22") PP_WI_NEXT   // w0: A2 of each row
                     PP_WI_COLUMN("1", "5", "9", "13", "17", "21") PP_WI_NEXT    // w1: A1
                     PP_WI_COLUMN("3", "7", "11", "15", "19", "23") PP_WI_NEXT   // w2: A3
                     "sub %[x], %[x], %[rows_back]\n\t"
                     "sub %[x4], %[x4], %[rows_back]\n\t"
                     PP_WI_ROWS(PP_WI_ROW_HI)
                     PP_WI_COLUMN("2", "6", "10", "14", "18", "22") PP_WI_NEXT   // w3: A2
                     PP_WI_COLUMN("0", "4", "8", "12", "16", "20") PP_WI_NEXT    // w4: A0
                     PP_WI_COLUMN("1", "5", "9", "13", "17", "21")               // w5: A1
                     : [x] "+r"(x), [x4] "+r"(x4), [out] "+r"(out)
                     : [in_stride] "r"(input_stride), [rows_back] "r"(rows_back), [out_step] "r"(out_step),
                       [out_back] "r"(out_back), [k] "w"(k)
                     : "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8", "v9", "v10", "v11", "v12", "v13",
                       "v14", "v15", "v16", "v17", "v18", "v19", "v20", "v21", "v22", "v23", "v24", "v25",
                       "v26", "v27", "v29", "v30", "memory");
  }
}
