// Template of the NEON (AArch64) f32 NCHW K x K depthwise microkernels with padding P = K / 2
// handled in the kernel (contract in ukernels.h, "same" padding): 3x3 at stride 1 and 2, 5x5 at
// stride 1. Whole planes straight from the input, register-tiled as ROWS output rows x
// COLS = 4 * VECS output columns. Each *-neon-*.cc instantiates it once.
//
// Design (per tile; FMLA by element as in dwconv2d-chw-neon.h, every vector instruction of a
// tile one asm statement over inputs held in v16-v23, which the compiler never sees: no copies):
//  - Rows: one pointer per input row the tile reads; rows above and below the plane point at
//    the zero row, so the top and bottom padding cost nothing per tile.
//  - Columns, stride 1: tap j of a row is one LD1 of the tile's vectors at column x + j - P,
//    post-incremented to the next tap, straight from the plane: the left padding columns are
//    the first tile's lanes below P - j of taps j < P and the right ones the last tile's lanes
//    past the edge of taps j > P, zeroed by one AND each with a mask (the loads there see the
//    neighbouring rows' values). For 5x5, tap 4 reaches past the edge from the last vector but
//    one too when the last holds one output; a row whose last tile would then be that one
//    output alone (widths COLS n + 1) runs its last tile 4 columns early, 5 columns wide, over
//    outputs the tile before it got wrong.
//  - Columns, stride 2: per 4 outputs two LD2 of 8 floats, at column 2x - 1 (taps 0 and 1:
//    columns 2x - 1 and 2x) and at 2x (tap 2: column 2x + 1; the even half is not used):
//    deinterleaved by the load, no copy. Masks as for stride 1 (the right edge matters for odd widths only).
//  - Tails: the last column tile runs ceil(rest / 4) vectors, not a whole tile, so 7- and
//    14-wide rows cost 2 and 4 vectors; the last row tile runs the rows that remain.
//  - Narrow planes (one column tile: MobileNets' 7x7 and 14x14 outputs): tiles of VT =
//    ceil(width / 4) vectors and ROWS * VECS / VT rows (8 for one vector), so fewer input rows are
//    loaded twice; each row but the plane's last is stored as whole vectors (the lanes past its
//    end are overwritten by the next row; on 1-wide planes that spill would pass the plane's
//    end, so there every row is stored exactly). Wide planes never take a one-tile branch: it
//    would keep a one-tile copy of every row tile in the hot function.
//  - Clamp: FMAX only (max = +inf: ReLU, or no bounds, min = -inf) or FMAX then FMIN (NaN propagates), chosen once
//    per call. Stores are exact: whole vectors, then 2 and 1 lanes.
//  - All channels of the call in one loop: the per-channel cost is its ceil((1 + K * K) / 4)
//    weight loads and the row pointers.
// Reads: at most P floats before and 7 after every row (PP_DWCONV2D_CHW_SAME_SLACK).
#pragma once

#include <arm_neon.h>

#include <cstddef>
#include <cstdint>

#include "dwconv2d-chw-neon.h"

namespace pyprune {
namespace dwconv2d_chw_same_neon {

enum class Clamp { none, lower, both };

PP_INLINE float32x4_t keep(float32x4_t v, uint32x4_t mask) {
  return vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(v), mask));
}

// The lanes below `n` (0..4) set.
PP_INLINE uint32x4_t lanes_below(size_t n) {
  const uint32x4_t index = {0, 1, 2, 3};
  return vcltq_u32(index, vdupq_n_u32(static_cast<uint32_t>(n)));
}

// The input vectors of a tile live in v16-v23, out of the compiler's sight: every vector
// instruction of a tile is one of the asm statements below, and each names v16-v23 as
// clobbered, so no value of the compiler's lives there across them and the inputs are never
// copied (with register variables GCC 12 copied inputs and accumulators between registers
// around every load: a third of a stride-1 tile's instructions). The asm is volatile, so the
// loads and the FMLAs that read their registers stay in program order. Register n of bank b
// is v(16 + 4 b + n).
#define PP_DW_CLOBBERS "v16", "v17", "v18", "v19", "v20", "v21", "v22", "v23"

// Every accumulator of a tile starts as lane 0 of w (the bias) inside an asm too, so nothing
// the compiler computes between two of them can land in v16-v23.
PP_INLINE float32x4_t bias(float32x4_t w) {
  float32x4_t acc;
  __asm__ volatile("dup %0.4s, %1.s[0]" : "=w"(acc) : "w"(w) : PP_DW_CLOBBERS);
  return acc;
}

// acc += v<REG> * w[L] (FMLA by element); keep(): v<REG> &= mask.
template <int REG>
struct In;
#define PP_DW_IN(REG)                                                                              \
  template <>                                                                                      \
  struct In<REG> {                                                                                 \
    template <int L>                                                                               \
    PP_INLINE static void fma(float32x4_t& acc, float32x4_t w) {                                   \
      __asm__ volatile("fmla %0.4s, v" #REG ".4s, %1.s[%2]"                                      \
                       : "+w"(acc) : "w"(w), "i"(L) : PP_DW_CLOBBERS);                                 \
    }                                                                                              \
    PP_INLINE static void keep(uint32x4_t mask) {                                                  \
      __asm__ volatile("and v" #REG ".16b, v" #REG ".16b, %0.16b" : : "w"(mask) : PP_DW_CLOBBERS); \
    }                                                                                              \
  };
PP_DW_IN(16) PP_DW_IN(17) PP_DW_IN(18) PP_DW_IN(19) PP_DW_IN(20) PP_DW_IN(21) PP_DW_IN(22) PP_DW_IN(23)
#undef PP_DW_IN

// Stride 1: LD1 of V vectors into bank BANK, then p += step bytes.
template <int V, int BANK>
PP_INLINE void load_window(const float*& p, intptr_t step);
#define PP_DW_LD1(V, BANK, REGS)                                                                   \
  template <>                                                                                      \
  PP_INLINE void load_window<V, BANK>(const float*& p, intptr_t step) {                            \
    __asm__ volatile("ld1 {" REGS "}, [%0], %1" : "+r"(p) : "r"(step) : PP_DW_CLOBBERS);    \
  }
PP_DW_LD1(1, 0, "v16.4s") PP_DW_LD1(2, 0, "v16.4s - v17.4s") PP_DW_LD1(3, 0, "v16.4s - v18.4s")
PP_DW_LD1(4, 0, "v16.4s - v19.4s") PP_DW_LD1(1, 1, "v20.4s") PP_DW_LD1(2, 1, "v20.4s - v21.4s")
PP_DW_LD1(3, 1, "v20.4s - v22.4s") PP_DW_LD1(4, 1, "v20.4s - v23.4s")
#undef PP_DW_LD1

// Stride 2: LD2 at column 2x - 1 (its even half, register 0, is tap 0, column 2x - 1, its odd
// half, register 1, tap 1, column 2x), then LD2 at 2x (its odd half, register 3, is tap 2,
// column 2x + 1); the pointer ends 8 floats on (post-increments of 4 and 28 bytes, held in
// registers: an immediate one must be the 32 bytes loaded), at the next 4 outputs.
template <int BANK>
PP_INLINE void load_pair(const float*& p, intptr_t four, intptr_t on);
#define PP_DW_LD2(BANK, A, B, C, D)                                                                \
  template <>                                                                                      \
  PP_INLINE void load_pair<BANK>(const float*& p, intptr_t four, intptr_t on) {                    \
    __asm__ volatile("ld2 {" A ".4s, " B ".4s}, [%0], %1\n\t"                                      \
                     "ld2 {" C ".4s, " D ".4s}, [%0], %2"                                          \
                     : "+r"(p) : "r"(four), "r"(on) : PP_DW_CLOBBERS);                     \
  }
PP_DW_LD2(0, "v16", "v17", "v18", "v19")
PP_DW_LD2(1, "v20", "v21", "v22", "v23")
#undef PP_DW_LD2

// The loads of load_pair() into register variables (banks 0 and 1: v16-v19, v20-v23), for the
// first layer's kernel (f32-conv2d-3x3s2p1), whose weights are register variables too.
template <int BANK>
struct Pair;
#define PP_NEON_PAIR(BANK, A, B, C, D)                                                              \
  template <>                                                                                       \
  struct Pair<BANK> {                                                                               \
    float32x4_t left, right, center;                                                                \
    PP_INLINE void load(const float*& p, intptr_t four, intptr_t on) {                            \
      register float32x4_t a __asm__(A);                                                            \
      register float32x4_t b __asm__(B);                                                            \
      register float32x4_t c __asm__(C);                                                            \
      register float32x4_t d __asm__(D);                                                            \
      __asm__ volatile("ld2 {" A ".4s, " B ".4s}, [%4], %5\n\t"                                     \
                       "ld2 {" C ".4s, " D ".4s}, [%4], %6"                                         \
                       : "=w"(a), "=w"(b), "=w"(c), "=w"(d), "+r"(p)                                \
                       : "r"(four), "r"(on));                                                       \
      left = a;                                                                                     \
      center = b;                                                                                   \
      right = d;                                                                                    \
      (void)c;                                                                                      \
    }                                                                                               \
  };
PP_NEON_PAIR(0, "v16", "v17", "v18", "v19")
PP_NEON_PAIR(1, "v20", "v21", "v22", "v23")
#undef PP_NEON_PAIR

template <int K, int S, int ROWS, int VECS, Clamp CLAMP>
struct Kernel {
  static_assert((K == 3 && (S == 1 || S == 2)) || (K == 5 && S == 1), "3x3 at stride 1 or 2, 5x5 at stride 1");
  static constexpr int P = K / 2;
  static constexpr int COLS = 4 * VECS;
  static constexpr int NW = (1 + K * K + 3) / 4;  // weight registers
  template <int R>
  static constexpr int kInputRows = S * (R - 1) + K;
  // Right edge, stride 1: lane l of vector VT - 1 - d of the last tile (whose last vector holds
  // m = 1..4 outputs) reads in tap j the column l + j - P - 4 d - m + 1 columns after the row's
  // last (inside for <= 0). An output of the last vector (l < m) reads past the row for taps
  // j > P; one of the vector before (any l) only for taps j > P + 1 (when m = 1).
  template <int D, int J>
  static constexpr bool kRightMask = J > P + D;
  static constexpr int kRightVecs = K > 3 ? 2 : 1;
  static_assert(kRightVecs == 1 || VECS >= 2, "a 5-column last tile fits");

  float32x4_t w[NW];  // bias, then the K * K taps
  const pp_f32_minmax_params* params;
  size_t height, width, out_height, out_width;
  const float* zero;
  size_t tiles;   // column tiles per row
  size_t rest;    // output columns of the last one (1..COLS), from `back` columns before its place
  size_t back;    // 4 where 5x5 would leave a last tile of one column, else 0
  uint32x4_t first[P];               // taps j < P: the first tile's lanes inside the plane, P - j..3
  uint32x4_t last[kRightVecs][P];    // taps j > P: the last tile's lanes inside the plane, by vector from its end

  PP_INLINE Kernel(size_t height, size_t width, const float* zero, const pp_f32_minmax_params* params)
      : params(params), height(height), width(width), out_height((height - 1) / S + 1),
        out_width((width - 1) / S + 1), zero(zero) {
    tiles = (out_width - 1) / COLS + 1;
    rest = out_width - (tiles - 1) * COLS;
    back = kRightVecs > 1 && tiles > 1 && rest == 1 ? 4 : 0;
    rest += back;
    unroll<P>([&](auto j) PP_INLINE_LAMBDA { first[j] = lanes_below(4) & ~lanes_below(P - PP_CONST(j)); });
    // The last vector's outputs m = rest - 4 * (vectors - 1) (1..4). Stride 1: lane l of vector
    // VT - 1 - d reads column x + 4 (VT - 1 - d) + l + j - P in tap j, inside for
    // l < m + 4 d + P - j. Stride 2: column 2(x + l) + 1 in tap 2, inside for l < m unless the
    // width is odd (the last output's is then the padding column).
    const ptrdiff_t m = static_cast<ptrdiff_t>(rest - 4 * ((rest - 1) / 4));
    unroll<kRightVecs>([&](auto d) PP_INLINE_LAMBDA {
      unroll<P>([&](auto t) PP_INLINE_LAMBDA {
        const ptrdiff_t inside = S == 1 ? m + 4 * PP_CONST(d) - 1 - PP_CONST(t) : m - static_cast<ptrdiff_t>(width & 1);
        last[d][t] = lanes_below(inside < 0 ? 0 : inside > 4 ? 4 : static_cast<size_t>(inside));
      });
    });
  }

  // Exactly 1 + K * K floats are read: whole q registers, then the last two floats.
  PP_INLINE void load_weights(const float* weights) {
    static_assert((1 + K * K) % 4 == 2, "weights end with two floats");
    unroll<NW - 1>([&](auto i) PP_INLINE_LAMBDA { w[i] = vld1q_f32(weights + 4 * PP_CONST(i)); });
    w[NW - 1] = vcombine_f32(vld1_f32(weights + 4 * (NW - 1)), vdup_n_f32(0.0f));
  }

  // The loops inside a tile are folds over member templates, not unroll() with lambdas: GCC's
  // front end slows down more than linearly with the number of lambdas it instantiates, and a
  // tile instantiates thousands (this header took minutes to compile with them).

  // Stride 1, window N = K i + j (row i, tap j) in bank N % 2: loads window N + 1 first, masks
  // window N at the plane's edges, then the FMLAs on it.
  template <int R, int VT, bool FIRST, bool LAST, int... N>
  PP_INLINE void windows(const float* (&in)[kInputRows<R>], float32x4_t (&acc)[R][VT], intptr_t step_tap,
                         intptr_t step_last, std::integer_sequence<int, N...>) const {
    (window<R, VT, FIRST, LAST, N>(in, acc, step_tap, step_last), ...);
  }
  template <int R, int VT, bool FIRST, bool LAST, int N>
  PP_INLINE void window(const float* (&in)[kInputRows<R>], float32x4_t (&acc)[R][VT], intptr_t step_tap,
                        intptr_t step_last) const {
    constexpr int kWindows = kInputRows<R> * K, I = N / K, J = N % K, N1 = N + 1, BANK = 16 + 4 * (N % 2);
    if constexpr (N1 < kWindows) load_window<VT, N1 % 2>(in[N1 / K], N1 % K == K - 1 ? step_last : step_tap);
    if constexpr (FIRST && J < P) In<BANK>::keep(first[J]);
    if constexpr (LAST) {
      mask_right<VT, J, BANK, 0>();
      if constexpr (kRightVecs > 1) mask_right<VT, J, BANK, 1>();
    }
    fma_vectors<I, J, BANK>(acc, std::make_integer_sequence<int, VT>{});
  }
  // Vector VT - 1 - D of the last tile's window of tap J.
  template <int VT, int J, int BANK, int D>
  PP_INLINE void mask_right() const {
    if constexpr (D < VT && kRightMask<D, J>) In<BANK + VT - 1 - D>::keep(last[D][J - P - 1]);
  }

  // Stride 2, load N = VT i + v (row i, vector v) in bank N % 2: loads N + 1 first, masks load N
  // at the plane's edges, then the FMLAs of its three taps.
  template <int R, int VT, bool FIRST, bool LAST, int... N>
  PP_INLINE void pairs(const float* (&in)[kInputRows<R>], float32x4_t (&acc)[R][VT], intptr_t four, intptr_t on,
                       std::integer_sequence<int, N...>) const {
    (pair<R, VT, FIRST, LAST, N>(in, acc, four, on), ...);
  }
  template <int R, int VT, bool FIRST, bool LAST, int N>
  PP_INLINE void pair(const float* (&in)[kInputRows<R>], float32x4_t (&acc)[R][VT], intptr_t four,
                      intptr_t on) const {
    constexpr int kLoads = kInputRows<R> * VT, I = N / VT, V = N % VT, N1 = N + 1, BANK = 16 + 4 * (N % 2);
    if constexpr (N1 < kLoads) load_pair<N1 % 2>(in[N1 / VT], four, on);
    if constexpr (FIRST && V == 0) In<BANK>::keep(first[0]);
    if constexpr (LAST && V == VT - 1) In<BANK + 3>::keep(last[0][0]);
    fma_rows<I, 0, BANK, V>(acc, std::make_integer_sequence<int, R>{});
    fma_rows<I, 1, BANK + 1, V>(acc, std::make_integer_sequence<int, R>{});
    fma_rows<I, 2, BANK + 3, V>(acc, std::make_integer_sequence<int, R>{});
  }

  // Every vector v of input row I's window of tap J (in v<BANK + v>) into the tile.
  template <int I, int J, int BANK, int R, int VT, int... V>
  PP_INLINE void fma_vectors(float32x4_t (&acc)[R][VT], std::integer_sequence<int, V...>) const {
    (fma_rows<I, J, BANK + V, V>(acc, std::make_integer_sequence<int, R>{}), ...);
  }
  // acc[r][V] += v<REG> * w[tap t] for every output row r of the tile that reads input row I
  // (kernel row I - S * r).
  template <int I, int J, int REG, int V, int R, int VT, int... r>
  PP_INLINE void fma_rows(float32x4_t (&acc)[R][VT], std::integer_sequence<int, r...>) const {
    (fma_row<I - S * r, J, REG>(acc[r][V]), ...);
  }
  template <int KY, int J, int REG>
  PP_INLINE void fma_row(float32x4_t& acc) const {
    if constexpr (KY >= 0 && KY < K) {
      constexpr int t = 1 + KY * K + J;
      In<REG>::template fma<t % 4>(acc, w[t / 4]);
    }
  }

  // One R x (4 * VT) tile; the row pointers advance by COLS outputs. FIRST: the tile at column
  // 0; LAST: the last column tile (masks its right edge).
  template <int R, int VT, bool FIRST, bool LAST>
  PP_INLINE void tile(const float* (&in)[kInputRows<R>], float32x4_t (&acc)[R][VT]) const {
    unroll<R>([&](auto r) PP_INLINE_LAMBDA {
      unroll<VT>([&](auto v) PP_INLINE_LAMBDA { acc[r][v] = bias(w[0]); });
    });
    if constexpr (S == 1) {
      // Windows n = K i + j (row i, tap j) in bank n % 2, window n + 1 loaded before the FMLAs
      // on window n.
      constexpr int kWindows = kInputRows<R> * K;
      const intptr_t step_tap = sizeof(float), step_last = (COLS - (K - 1)) * static_cast<intptr_t>(sizeof(float));
      load_window<VT, 0>(in[0], step_tap);
      windows<R, VT, FIRST, LAST>(in, acc, step_tap, step_last, std::make_integer_sequence<int, kWindows>{});
    } else {
      // Loads n = VT * i + v (row i, vector v) in bank n % 2, load n + 1 before the FMLAs on
      // load n.
      constexpr int kLoads = kInputRows<R> * VT;
      const intptr_t four = sizeof(float), on = 7 * sizeof(float);
      load_pair<0>(in[0], four, on);
      pairs<R, VT, FIRST, LAST>(in, acc, four, on, std::make_integer_sequence<int, kLoads>{});
      // VECS * 8 floats were read per row; a narrower tail is the last tile of the row.
    }
    const float32x4_t vmin = vld1q_dup_f32(&params->min);
    unroll<R>([&](auto r) PP_INLINE_LAMBDA {
      unroll<VT>([&](auto v) PP_INLINE_LAMBDA { acc[r][v] = vmaxq_f32(acc[r][v], vmin); });
    });
    if constexpr (CLAMP == Clamp::both) {
      const float32x4_t vmax = vld1q_dup_f32(&params->max);
      unroll<R>([&](auto r) PP_INLINE_LAMBDA {
        unroll<VT>([&](auto v) PP_INLINE_LAMBDA { acc[r][v] = vminq_f32(acc[r][v], vmax); });
      });
    }
  }

  template <int R, int VT>
  PP_INLINE static void store_full(float* (&out)[R], const float32x4_t (&acc)[R][VT]) {
    unroll<R>([&](auto r) PP_INLINE_LAMBDA {
      unroll<VT>([&](auto v) PP_INLINE_LAMBDA { vst1q_f32(out[r] + 4 * v, acc[r][v]); });
      out[r] += 4 * VT;
    });
  }

  // The first n (1..4 * VT) columns of each row: whole vectors, then the last one's 4, 2 and/or
  // 1 lanes, each decision taken once for all rows.
  template <int R, int VT>
  PP_INLINE static void store_part(float* (&out)[R], const float32x4_t (&acc)[R][VT], size_t n) {
    unroll<R>([&](auto r) PP_INLINE_LAMBDA {
      unroll<VT - 1>([&](auto v) PP_INLINE_LAMBDA { vst1q_f32(out[r] + 4 * v, acc[r][v]); });
    });
    const size_t m = n - 4 * (VT - 1);
    if (m == 4) {
      unroll<R>([&](auto r) PP_INLINE_LAMBDA { vst1q_f32(out[r] + 4 * (VT - 1), acc[r][VT - 1]); });
      return;
    }
    constexpr int o = 4 * (VT - 1);
    if (m & 2) unroll<R>([&](auto r) PP_INLINE_LAMBDA { vst1_f32(out[r] + o, vget_low_f32(acc[r][VT - 1])); });
    if (m == 3) unroll<R>([&](auto r) PP_INLINE_LAMBDA { vst1q_lane_f32(out[r] + o + 2, acc[r][VT - 1], 2); });
    if (m == 1) unroll<R>([&](auto r) PP_INLINE_LAMBDA { vst1q_lane_f32(out[r] + o, acc[r][VT - 1], 0); });
  }

  // The last column tile: VT = ceil(rest / 4) vectors, `back` columns before the end of the tiles.
  template <int R>
  PP_INLINE void last_tile(const float* (&in)[kInputRows<R>], float* (&out)[R]) const {
    if (kRightVecs > 1 && back != 0) {
      unroll<kInputRows<R>>([&](auto i) PP_INLINE_LAMBDA { in[i] -= back; });
      unroll<R>([&](auto r) PP_INLINE_LAMBDA { out[r] -= back; });
    }
    unroll<VECS>([&](auto v) PP_INLINE_LAMBDA {
      constexpr int VT = PP_CONST(v) + 1;
      if ((rest + 3) / 4 == VT) {
        float32x4_t acc[R][VT];
        tile<R, VT, false, true>(in, acc);
        store_part<R, VT>(out, acc, rest);
      }
    });
  }

  // The input rows of output rows [y, y + R), each pointer P floats before its row: input
  // row S * y - P + i. Only the first P (above the plane) and the last P (below it) can be
  // outside the plane: those point at the zero row.
  template <int R>
  PP_INLINE void input_rows(const float* plane, size_t y, const float* (&in)[kInputRows<R>]) const {
    constexpr int N = kInputRows<R>;
    const float* row = plane + (static_cast<ptrdiff_t>(S * y) - P) * static_cast<ptrdiff_t>(width) - P;
    unroll<N>([&](auto i) PP_INLINE_LAMBDA {
      in[i] = row;
      row += width;
    });
    unroll<P>([&](auto i) PP_INLINE_LAMBDA {
      if (S * y + PP_CONST(i) < P) in[i] = zero - P;
      if (S * y + N - 1 - P - PP_CONST(i) >= height) in[N - 1 - PP_CONST(i)] = zero - P;
    });
  }

  // Output rows [y, y + R) of one plane.
  template <int R>
  PP_INLINE void rows(const float* plane, float* output, size_t y) const {
    const float* in[kInputRows<R>];
    float* out[R];
    input_rows<R>(plane, y, in);
    unroll<R>([&](auto r) PP_INLINE_LAMBDA { out[r] = output + (y + PP_CONST(r)) * out_width; });
    float32x4_t acc[R][VECS];
    tile<R, VECS, true, false>(in, acc);
    store_full<R, VECS>(out, acc);
    for (size_t n = tiles - 2; n != 0; n--) {
      tile<R, VECS, false, false>(in, acc);
      store_full<R, VECS>(out, acc);
    }
    last_tile<R>(in, out);
  }

  // Output rows [y, y + R) of a plane at most 4 * VT columns wide (one column tile). Unless
  // EXACT, every row but the plane's last is stored as whole vectors: the lanes past its end
  // land on the first columns of the next row, which is written after it.
  template <int R, int VT, bool EXACT>
  PP_INLINE void narrow_rows(const float* plane, float* output, size_t y) const {
    const float* in[kInputRows<R>];
    input_rows<R>(plane, y, in);
    float32x4_t acc[R][VT];
    tile<R, VT, true, true>(in, acc);
    float* out = output + y * out_width;
    if constexpr (EXACT) {
      float* each[R];
      unroll<R>([&](auto r) PP_INLINE_LAMBDA { each[r] = out + PP_CONST(r) * out_width; });
      store_part<R, VT>(each, acc, out_width);
      return;
    }
    unroll<R - 1>([&](auto r) PP_INLINE_LAMBDA {
      unroll<VT>([&](auto v) PP_INLINE_LAMBDA { vst1q_f32(out + 4 * v, acc[r][v]); });
      out += out_width;
    });
    float* last[1] = {out};
    const float32x4_t(&bottom)[1][VT] = reinterpret_cast<const float32x4_t(&)[1][VT]>(acc[R - 1]);
    if (y + R < out_height) {
      store_full<1, VT>(last, bottom);
    } else {
      store_part<1, VT>(last, bottom, out_width);
    }
  }

  // Narrow planes (one column tile of VT vectors): taller tiles of about as many accumulators
  // as a ROWS x COLS tile, so fewer input rows are loaded twice, and plain stores.
  template <int VT, bool EXACT>
  PP_INLINE void run_narrow(size_t channels, const float* input, const float* weights, float* output) {
    constexpr int R = VT == 1 ? 8 : ROWS * VECS / VT;
    const size_t plane = height * width, out_plane = out_height * out_width;
    for (; channels != 0; channels--, input += plane, weights += 1 + K * K, output += out_plane) {
      load_weights(weights);
      size_t y = 0;
      for (; y + R <= out_height; y += R) narrow_rows<R, VT, EXACT>(input, output, y);
      unroll<R>([&](auto r) PP_INLINE_LAMBDA {
        if constexpr (PP_CONST(r) > 0) {
          if (out_height - y == PP_CONST(r)) narrow_rows<PP_CONST(r), VT, EXACT>(input, output, y);
        }
      });
    }
  }

  // Planes of more than one column tile.
  PP_INLINE void run_wide(size_t channels, const float* input, const float* weights, float* output) {
    const size_t plane = height * width, out_plane = out_height * out_width;
    for (; channels != 0; channels--, input += plane, weights += 1 + K * K, output += out_plane) {
      load_weights(weights);
      size_t y = 0;
      for (; y + ROWS <= out_height; y += ROWS) rows<ROWS>(input, output, y);
      unroll<ROWS>([&](auto r) PP_INLINE_LAMBDA {
        if constexpr (PP_CONST(r) > 0) {
          if (out_height - y == PP_CONST(r)) rows<PP_CONST(r)>(input, output, y);
        }
      });
    }
  }

  // Each path compiles as a function of its own (one flattened function of them all took
  // minutes to compile), given the kernel by value: through `this`, any store could alias its
  // weights and masks, which then would not stay in registers.
  template <int VT, bool EXACT>
  __attribute__((noinline, flatten)) static void narrow_path(Kernel k, size_t channels, const float* input,
                                                             const float* weights, float* output) {
    k.run_narrow<VT, EXACT>(channels, input, weights, output);
  }
  __attribute__((noinline, flatten)) static void wide_path(Kernel k, size_t channels, const float* input,
                                                           const float* weights, float* output) {
    k.run_wide(channels, input, weights, output);
  }

  PP_INLINE void run(size_t channels, const float* input, const float* weights, float* output) const {
    if (tiles > 1) {
      wide_path(*this, channels, input, weights, output);
    } else if (out_width == 1) {
      // A narrow row's whole-vector store spills up to 3 lanes: past the plane's end when the
      // rows are 1 wide.
      narrow_path<1, true>(*this, channels, input, weights, output);
    } else {
      unroll<VECS>([&](auto v) PP_INLINE_LAMBDA {
        if ((rest + 3) / 4 == PP_CONST(v) + 1) narrow_path<PP_CONST(v) + 1, false>(*this, channels, input, weights, output);
      });
    }
  }
};

}  // namespace dwconv2d_chw_same_neon
}  // namespace pyprune

// Defines the extern "C" microkernel `name` as Kernel<k, s, rows, cols / 4, clamp>, the clamp
// chosen from the bounds: FMAX only for an upper bound of +inf (ReLU; no bounds at all run it
// with -inf, which FMAX passes through, NaN included: a third variant of every tile would add
// minutes to the build for layers without an activation, which depthwise ones rarely are).
#define PP_DWCONV2D_CHW_SAME_NEON_UKERNEL(name, k, s, tile_rows, tile_cols)                                \
  extern "C" void name(size_t channels, size_t input_height, size_t input_width, const float* input,    \
                       const float* weights, float* output, const float* zero,                         \
                       const pp_f32_minmax_params* params) {                                            \
    PP_ASSERT(input_height != 0 && input_width != 0);                                                     \
    using pyprune::dwconv2d_chw_same_neon::Clamp;                                                         \
    using pyprune::dwconv2d_chw_same_neon::Kernel;                                                        \
    if (params->max == __builtin_inff()) {                                                                \
      Kernel<k, s, tile_rows, tile_cols / 4, Clamp::lower>(input_height, input_width, zero, params)         \
          .run(channels, input, weights, output);                                                        \
    } else {                                                                                              \
      Kernel<k, s, tile_rows, tile_cols / 4, Clamp::both>(input_height, input_width, zero, params)          \
          .run(channels, input, weights, output);                                                        \
    }                                                                                                     \
  }
