// f32 Winograd F(4x4, 3x3) output transform with bias, residual and clamp, NEON.
//
// A group of 4 tiles (lanes) is one asm statement that keeps everything in registers: the 36
// positions are loaded in order (one pointer, post-incremented by the position stride), each
// row i of M is reduced at once (t[i] = M[i] A, 4 vectors), then each column c of t
// (y[.][c] = A^T t[.][c]), and the 4 output rows are stored interleaved by ST4. The registers
// are placed so that no value is ever copied: t[i][c] is v(16 + 4i + c) for i < 4, v(8 + c) and
// v(12 + c) for i = 4, 5; the column pass leaves output row 0 in v16-v19, row 1 in v4-v7, row 2
// in v24-v27, row 3 in v12-v15, each 4 consecutive registers for its ST4. Scratch: v4-v7 (row
// pass), v20-v23 (residual). The generic template (winograd-math.h) staged the columns' results
// in memory and copied registers for each ST4: about twice these instructions.
//  - Bias: A^T's column 1 is all ones (so is A's row 1), so adding the bias to M[1][1] adds it
//    to every output: one FADD per group instead of one per output vector.
//  - Clamp: picked once per call, as the GEMM does: none, FMAX alone (ReLU), or both.
//  - A group the output cuts (fewer than 4 tiles, a cut last tile, or fewer than 4 rows) goes
//    through stack buffers: its residual copied in, its output copied out.
#include <arm_neon.h>

#include <cstddef>
#include <type_traits>

#include "pyprune/ukernels.h"
#include "pyprune/unroll.h"

namespace {

enum class Clamp { none, lower, both };

#define PP_WO_LD(R) "ld1 {v" R ".4s}, [%[in]], %[in_stride]\n\t"
// t[i][0..3] into R0..R3 from row i of M (x0 .. x5 in R0, v4-v7, R3); BIAS acts on x1 (v4).
#define PP_WO_ROW(R0, R1, R2, R3, BIAS)                                                          \
  PP_WO_LD(R0) PP_WO_LD("4") PP_WO_LD("5") PP_WO_LD("6") PP_WO_LD("7") PP_WO_LD(R3) BIAS        \
  "fadd v" R2 ".4s, v4.4s, v5.4s\n\t"          /* a = x1 + x2 */                                 \
  "fsub v" R1 ".4s, v4.4s, v5.4s\n\t"          /* b = x1 - x2 */                                 \
  "fadd v4.4s, v6.4s, v7.4s\n\t"               /* c = x3 + x4 */                                 \
  "fsub v5.4s, v6.4s, v7.4s\n\t"               /* d = x3 - x4 */                                 \
  "fadd v" R0 ".4s, v" R0 ".4s, v" R2 ".4s\n\t"                                                  \
  "fadd v" R3 ".4s, v" R3 ".4s, v" R1 ".4s\n\t"                                                  \
  "fadd v" R0 ".4s, v" R0 ".4s, v4.4s\n\t"     /* x0 + a + c */                                  \
  "fmla v" R2 ".4s, v4.4s, %[k].s[1]\n\t"      /* a + 4 c */                                     \
  "fmla v" R1 ".4s, v5.4s, %[k].s[0]\n\t"      /* b + 2 d */                                     \
  "fmla v" R3 ".4s, v5.4s, %[k].s[2]\n\t"      /* x5 + b + 8 d */
// y[0..3][c] from t[0..5][c] in X0 .. X5: into X0, Y1, X2, X5.
#define PP_WO_COL(X0, X1, X2, X3, X4, X5, Y1)                                                    \
  "fsub v" Y1 ".4s, v" X1 ".4s, v" X2 ".4s\n\t"  /* b */                                         \
  "fadd v" X2 ".4s, v" X1 ".4s, v" X2 ".4s\n\t"  /* a */                                         \
  "fadd v" X1 ".4s, v" X3 ".4s, v" X4 ".4s\n\t"  /* c */                                         \
  "fsub v" X3 ".4s, v" X3 ".4s, v" X4 ".4s\n\t"  /* d */                                         \
  "fadd v" X0 ".4s, v" X0 ".4s, v" X2 ".4s\n\t"                                                  \
  "fadd v" X5 ".4s, v" X5 ".4s, v" Y1 ".4s\n\t"                                                  \
  "fadd v" X0 ".4s, v" X0 ".4s, v" X1 ".4s\n\t"                                                  \
  "fmla v" X2 ".4s, v" X1 ".4s, %[k].s[1]\n\t"                                                   \
  "fmla v" Y1 ".4s, v" X3 ".4s, %[k].s[0]\n\t"                                                   \
  "fmla v" X5 ".4s, v" X3 ".4s, %[k].s[2]\n\t"
#define PP_WO_TRANSFORM                                                                          \
  PP_WO_ROW("16", "17", "18", "19", "")                                                          \
  PP_WO_ROW("20", "21", "22", "23", "fadd v4.4s, v4.4s, %[bias].4s\n\t")                         \
  PP_WO_ROW("24", "25", "26", "27", "") PP_WO_ROW("28", "29", "30", "31", "")                    \
  PP_WO_ROW("8", "9", "10", "11", "") PP_WO_ROW("12", "13", "14", "15", "")                      \
  PP_WO_COL("16", "20", "24", "28", "8", "12", "4") PP_WO_COL("17", "21", "25", "29", "9", "13", "5") \
  PP_WO_COL("18", "22", "26", "30", "10", "14", "6") PP_WO_COL("19", "23", "27", "31", "11", "15", "7")

// An output row in v<B0> .. v<B3>: residual added (RES), clamped (CLAMP), stored.
#define PP_WO_EACH(OP, B0, B1, B2, B3, X)                                                        \
  OP " v" B0 ".4s, v" B0 ".4s, " X "\n\t" OP " v" B1 ".4s, v" B1 ".4s, " X "\n\t"               \
  OP " v" B2 ".4s, v" B2 ".4s, " X "\n\t" OP " v" B3 ".4s, v" B3 ".4s, " X "\n\t"
#define PP_WO_RES_NONE(B0, B1, B2, B3) ""
#define PP_WO_RES_ADD(B0, B1, B2, B3)                                                            \
  "ld4 {v20.4s - v23.4s}, [%[res]], %[out_stride]\n\t"                                           \
  "fadd v" B0 ".4s, v" B0 ".4s, v20.4s\n\t" "fadd v" B1 ".4s, v" B1 ".4s, v21.4s\n\t"            \
  "fadd v" B2 ".4s, v" B2 ".4s, v22.4s\n\t" "fadd v" B3 ".4s, v" B3 ".4s, v23.4s\n\t"
#define PP_WO_CLAMP_NONE(B0, B1, B2, B3) ""
#define PP_WO_CLAMP_LOWER(B0, B1, B2, B3) PP_WO_EACH("fmax", B0, B1, B2, B3, "%[lo].4s")
#define PP_WO_CLAMP_BOTH(B0, B1, B2, B3)                                                         \
  PP_WO_EACH("fmax", B0, B1, B2, B3, "%[lo].4s") PP_WO_EACH("fmin", B0, B1, B2, B3, "%[hi].4s")
#define PP_WO_STORE(RES, CLAMP, B0, B1, B2, B3)                                                  \
  RES(B0, B1, B2, B3) CLAMP(B0, B1, B2, B3)                                                      \
  "st4 {v" B0 ".4s - v" B3 ".4s}, [%[out]], %[out_stride]\n\t"
#define PP_WO_GROUP(RES, CLAMP)                                                                  \
  __asm__ volatile(PP_WO_TRANSFORM                                                               \
                   PP_WO_STORE(RES, CLAMP, "16", "17", "18", "19")                               \
                   PP_WO_STORE(RES, CLAMP, "4", "5", "6", "7")                                   \
                   PP_WO_STORE(RES, CLAMP, "24", "25", "26", "27")                               \
                   PP_WO_STORE(RES, CLAMP, "12", "13", "14", "15")                               \
                   : [in] "+r"(in), [out] "+r"(out), [res] "+r"(res)                             \
                   : [in_stride] "r"(in_stride), [out_stride] "r"(out_stride), [k] "w"(k),       \
                     [bias] "w"(bias), [lo] "w"(lo), [hi] "w"(hi)                                \
                   : "v4", "v5", "v6", "v7", "v8", "v9", "v10", "v11", "v12", "v13", "v14",      \
                     "v15", "v16", "v17", "v18", "v19", "v20", "v21", "v22", "v23", "v24", "v25", \
                     "v26", "v27", "v28", "v29", "v30", "v31", "memory")

struct Constants {
  float32x4_t k, bias, lo, hi;  // k = {2, 4, 8, 0}: A's coefficients
};

// The 4 rows of one group of 4 tiles: position p at in + p * in_stride bytes, output and
// residual rows out_stride bytes apart.
template <Clamp C, bool Residual>
PP_INLINE void group(const float* in, size_t in_stride, const float* res, float* out, size_t out_stride,
                     const Constants& v) {
  const float32x4_t k = v.k, bias = v.bias, lo = v.lo, hi = v.hi;
  if constexpr (Residual) {
    if constexpr (C == Clamp::none) PP_WO_GROUP(PP_WO_RES_ADD, PP_WO_CLAMP_NONE);
    if constexpr (C == Clamp::lower) PP_WO_GROUP(PP_WO_RES_ADD, PP_WO_CLAMP_LOWER);
    if constexpr (C == Clamp::both) PP_WO_GROUP(PP_WO_RES_ADD, PP_WO_CLAMP_BOTH);
  } else {
    if constexpr (C == Clamp::none) PP_WO_GROUP(PP_WO_RES_NONE, PP_WO_CLAMP_NONE);
    if constexpr (C == Clamp::lower) PP_WO_GROUP(PP_WO_RES_NONE, PP_WO_CLAMP_LOWER);
    if constexpr (C == Clamp::both) PP_WO_GROUP(PP_WO_RES_NONE, PP_WO_CLAMP_BOTH);
  }
}

// `count` (<= 16) floats of each of `rows` rows, without a loop (GCC would make one a memcpy call).
PP_INLINE void copy_rows(const float* from, size_t from_stride, float* to, size_t to_stride, size_t rows,
                         size_t count) {
  const size_t whole = count & ~size_t{3};
  for (size_t r = 0; r < rows; r++) {
    if (count >= 4) vst1q_f32(to, vld1q_f32(from));
    if (count >= 8) vst1q_f32(to + 4, vld1q_f32(from + 4));
    if (count >= 12) vst1q_f32(to + 8, vld1q_f32(from + 8));
    if (count == 16) vst1q_f32(to + 12, vld1q_f32(from + 12));
    if (count & 2) vst1_f32(to + whole, vld1_f32(from + whole));
    if (count & 1) to[count - 1] = from[count - 1];
    from = reinterpret_cast<const float*>(reinterpret_cast<const char*>(from) + from_stride);
    to = reinterpret_cast<float*>(reinterpret_cast<char*>(to) + to_stride);
  }
}

template <Clamp C, bool Residual>
void output_transform(size_t tiles, size_t rows, size_t columns, const float* input, size_t input_stride,
                      const float* residual, float* output, size_t output_stride, const Constants& v) {
  // A cut group's rows, 16 floats apart; their lanes past the output are never stored.
  alignas(16) float cut[4 * 16], cut_residual[4 * 16];
  for (size_t t = 0; t < tiles; t += 4) {
    const size_t first = 4 * t, count = columns - first < 16 ? columns - first : 16;
    const float* res = Residual ? residual + first : nullptr;
    if (rows == 4 && count == 16) {
      group<C, Residual>(input + t, input_stride, res, output + first, output_stride, v);
    } else {
      if (Residual) copy_rows(res, output_stride, cut_residual, sizeof(float) * 16, rows, count);
      group<C, Residual>(input + t, input_stride, cut_residual, cut, sizeof(float) * 16, v);
      copy_rows(cut, sizeof(float) * 16, output + first, output_stride, rows, count);
    }
  }
}

}  // namespace

extern "C" void pp_f32_winograd_output_minmax_ukernel_4x4__neon(size_t tiles, size_t rows, size_t columns,
                                                                const float* input, size_t input_stride,
                                                                float bias, const float* residual, float* output,
                                                                size_t output_stride,
                                                                const pp_f32_minmax_params* params) {
  PP_ASSERT(tiles >= 1 && rows >= 1 && rows <= 4 && columns > (tiles - 1) * 4 && columns <= tiles * 4);
  const Constants v = {{2.0f, 4.0f, 8.0f, 0.0f}, vdupq_n_f32(bias), vdupq_n_f32(params->min),
                       vdupq_n_f32(params->max)};
  const auto run = [&](auto clamp) {
    constexpr Clamp C = decltype(clamp)::value;
    if (residual != nullptr) {
      output_transform<C, true>(tiles, rows, columns, input, input_stride, residual, output, output_stride, v);
    } else {
      output_transform<C, false>(tiles, rows, columns, input, input_stride, nullptr, output, output_stride, v);
    }
  };
  if (params->max != __builtin_inff()) {
    run(std::integral_constant<Clamp, Clamp::both>());
  } else if (params->min != -__builtin_inff()) {
    run(std::integral_constant<Clamp, Clamp::lower>());
  } else {
    run(std::integral_constant<Clamp, Clamp::none>());
  }
}
