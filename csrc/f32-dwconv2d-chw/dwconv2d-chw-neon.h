// Template of the NEON (AArch64) f32 NCHW depthwise microkernels: a kernel_size x kernel_size
// valid convolution with stride 1 or 2 over the zero-padded strip described in ukernels.h,
// register-tiled as ROWS output rows x COLS output columns. Each *-neon-*.cc instantiates it once.
//
// Design (per tile of ROWS x COLS outputs, COLS = 4 * VECS):
//  - The 1 + K*K weights (bias first) live in ceil((1 + K*K) / 4) q registers for the whole call
//    (3x3: 3, 5x5: 7, 9x9: 21); every tap is one FMLA by element (vfmaq_laneq_f32), no
//    broadcasts.
//  - ROWS x VECS accumulators start at the bias and take K*K FMLAs each.
//  - Input: one pointer per padded input row. For tap j the COLS inputs are one LD1 of VECS
//    registers (up to 16 floats), post-incremented by a step held in a general register, so
//    the K shifted windows of a row cost K instructions and no address arithmetic:
//      stride 1: windows start at columns x, x+1, ..., x+K-1 (unaligned loads, no EXT);
//      stride 2: the driver stores even and odd columns as two physical rows, so tap j reads
//      row (j & 1) at index x + (j >> 1): contiguous loads, no LD2/deinterleave. The pointer
//      hops between the two physical rows with steps +row_stride and 4 - row_stride.
//    Each window is loaded once and used by every output row of the tile it belongs to.
//  - Clamp: FMAX with min, then FMIN with max (both propagate NaN), skipped when the bounds are
//    -inf/+inf (no activation); stores are STP/STR q.
//  - Ragged right edge: one more full tile reads into the row slack, and its stores are split
//    into q, 2-lane and 1-lane pieces, so nothing is written past output_width. Ragged bottom
//    edge: the same code instantiated for 1..ROWS-1 rows.
// Reads: up to COLS + K - 1 floats of every padded row per tile, i.e. at most
// COLS - 1 <= 15 floats past the last column an output needs (within PP_DWCONV2D_CHW_ROW_SLACK).
#pragma once

#include <arm_neon.h>

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "pyprune/neon_vector.h"
#include "pyprune/ukernels.h"
#include "pyprune/unroll.h"

namespace pyprune {
namespace dwconv2d_chw_neon {

// LD1 of V consecutive q registers from p, then p += step bytes: one instruction for up to 16
// floats at any alignment. Inline asm because GCC 12 neither post-increments multi-register
// loads by a register nor keeps their float32x4xN_t results out of the stack. LD1 needs
// consecutive registers, so the window lives in fixed ones: v16-v19 or v20-v23 (BANK 0 or 1,
// alternated so the next load need not wait for the FMLAs on the previous window).
template <int V, int BANK>
struct Window;
#define PP_NEON_WINDOW(V, BANK, REGS, ...)                                                   \
  template <>                                                                                \
  struct Window<V, BANK> {                                                                   \
    float32x4_t v[V];                                                                        \
    PP_INLINE void load(const float*& p, intptr_t step) {                               \
      __VA_ARGS__;                                                                           \
    }                                                                                        \
  };
PP_NEON_WINDOW(1, 0, , register float32x4_t a __asm__("v16");
               __asm__ volatile("ld1 {v16.4s}, [%1], %2" : "=w"(a), "+r"(p) : "r"(step)); v[0] = a)
PP_NEON_WINDOW(1, 1, , register float32x4_t a __asm__("v20");
               __asm__ volatile("ld1 {v20.4s}, [%1], %2" : "=w"(a), "+r"(p) : "r"(step)); v[0] = a)
PP_NEON_WINDOW(2, 0, , register float32x4_t a __asm__("v16"); register float32x4_t b __asm__("v17");
               __asm__ volatile("ld1 {v16.4s - v17.4s}, [%2], %3" : "=w"(a), "=w"(b), "+r"(p) : "r"(step));
               v[0] = a; v[1] = b)
PP_NEON_WINDOW(2, 1, , register float32x4_t a __asm__("v20"); register float32x4_t b __asm__("v21");
               __asm__ volatile("ld1 {v20.4s - v21.4s}, [%2], %3" : "=w"(a), "=w"(b), "+r"(p) : "r"(step));
               v[0] = a; v[1] = b)
PP_NEON_WINDOW(3, 0, , register float32x4_t a __asm__("v16"); register float32x4_t b __asm__("v17");
               register float32x4_t c __asm__("v18");
               __asm__ volatile("ld1 {v16.4s - v18.4s}, [%3], %4" : "=w"(a), "=w"(b), "=w"(c), "+r"(p) : "r"(step));
               v[0] = a; v[1] = b; v[2] = c)
PP_NEON_WINDOW(3, 1, , register float32x4_t a __asm__("v20"); register float32x4_t b __asm__("v21");
               register float32x4_t c __asm__("v22");
               __asm__ volatile("ld1 {v20.4s - v22.4s}, [%3], %4" : "=w"(a), "=w"(b), "=w"(c), "+r"(p) : "r"(step));
               v[0] = a; v[1] = b; v[2] = c)
PP_NEON_WINDOW(4, 0, , register float32x4_t a __asm__("v16"); register float32x4_t b __asm__("v17");
               register float32x4_t c __asm__("v18"); register float32x4_t d __asm__("v19");
               __asm__ volatile("ld1 {v16.4s - v19.4s}, [%4], %5"
                       : "=w"(a), "=w"(b), "=w"(c), "=w"(d), "+r"(p) : "r"(step));
               v[0] = a; v[1] = b; v[2] = c; v[3] = d)
PP_NEON_WINDOW(4, 1, , register float32x4_t a __asm__("v20"); register float32x4_t b __asm__("v21");
               register float32x4_t c __asm__("v22"); register float32x4_t d __asm__("v23");
               __asm__ volatile("ld1 {v20.4s - v23.4s}, [%4], %5"
                       : "=w"(a), "=w"(b), "=w"(c), "=w"(d), "+r"(p) : "r"(step));
               v[0] = a; v[1] = b; v[2] = c; v[3] = d)
#undef PP_NEON_WINDOW

// acc += x * w[L] (one FMLA by element). Inline asm keeps the by-element form: from the
// intrinsic GCC 12 hoists a DUP per tap out of the loop, 9 or 25 registers it does not have.
template <int L>
PP_INLINE float32x4_t fma_lane(float32x4_t acc, float32x4_t x, float32x4_t w) {
  __asm__ volatile("fmla %0.4s, %1.4s, %2.s[%3]" : "+w"(acc) : "w"(x), "w"(w), "i"(L));
  return acc;
}

template <int K, int S, int ROWS, int COLS, bool CLAMP>
struct Kernel {
  static_assert(K == 3 || K == 5 || K == 7 || K == 9, "3x3, 5x5, 7x7 and 9x9 only");
  // 9x9's weights take 21 registers: with the windows' 4 (two of 2), 2 accumulators at most.
  static_assert(K < 9 || ROWS * COLS <= 8, "9x9 tiles are at most 8 outputs");
  static_assert(S == 1 || S == 2, "stride 1 or 2");
  static_assert(COLS == 4 || COLS == 8 || COLS == 16, "COLS is 4, 8 or 16");
  static constexpr int VECS = COLS / 4;
  static constexpr int NW = (1 + K * K + 3) / 4;  // weight registers
  static constexpr intptr_t kTileBytes = COLS * sizeof(float);

  float32x4_t w[NW];
  // With more than 12 accumulators (+ 4 weight/bias + 8 window registers) GCC has no room left
  // for min and max: it then copies registers around. Such tiles reload min/max per tile instead.
  static constexpr bool kReloadClamp = ROWS * VECS > 12;
  float32x4_t vbias, vmin_, vmax_;
  const pp_f32_minmax_params* params;
  intptr_t step_tap;   // to the next window of the same physical row (stride 1: +1 float)
  intptr_t step_last;  // from the last window of a row to the first window of the next tile
  intptr_t step_up;    // stride 2: even row -> odd row (+row stride)
  intptr_t step_down;  // stride 2: odd row -> next window of the even row (4 - row stride)

  PP_INLINE Kernel(const float* weights, size_t input_stride,
                        const pp_f32_minmax_params* params)
      : params(params) {
    if (!kReloadClamp) {
      vmin_ = vld1q_dup_f32(&params->min);
      vmax_ = vld1q_dup_f32(&params->max);
    }
    // Exactly 1 + K*K floats are read: full q registers, then the last two floats.
    unroll<NW - 1>([&](auto i) PP_INLINE_LAMBDA { w[i] = vld1q_f32(weights + 4 * i); });
    w[NW - 1] = vcombine_f32(vld1_f32(weights + 4 * (NW - 1)), vdup_n_f32(0.0f));
    static_assert((1 + K * K) % 4 == 2, "weights end with two floats");
    vbias = vdupq_laneq_f32(w[0], 0);
    const intptr_t stride = static_cast<intptr_t>(input_stride);
    if (S == 1) {
      step_tap = sizeof(float);
      step_last = kTileBytes - (K - 1) * static_cast<intptr_t>(sizeof(float));
    } else {
      // Even row windows at x, x+1, .. (taps 0, 2, 4); odd row at x, x+1 (taps 1, 3).
      step_up = stride;
      step_down = static_cast<intptr_t>(sizeof(float)) - stride;
      step_last = kTileBytes - (K / 2) * static_cast<intptr_t>(sizeof(float));
    }
  }

  // Padded input rows one tile of R output rows reads.
  template <int R>
  static constexpr int kInputRows = S * (R - 1) + K;

  // Loads window n (padded row n / K, tap n % K) and advances that row's pointer to its next
  // window. Taps in load order: stride 1: columns x..x+K-1; stride 2: even row x, odd row x,
  // even row x+1, ... (the pointer hops between the two physical rows).
  template <int R, int N, class W>
  PP_INLINE void load_window(const float* (&in)[kInputRows<R>], W& x) const {
    constexpr int i = N / K, tap = N % K;
    intptr_t step;
    if (tap == K - 1) {
      step = step_last;
    } else if (S == 1) {
      step = step_tap;
    } else {
      step = (tap % 2 == 0) ? step_up : step_down;
    }
    x.load(in[i], step);
  }

  // The loops inside a tile are folds over member templates, not unroll() with lambdas: GCC's
  // front end slows down more than linearly with the number of lambdas it instantiates.

  // acc[r] += window n * w[tap] for every output row r of the tile that reads padded row n / K.
  template <int N, class W, int R, int... r>
  PP_INLINE void fma_window(const W& x, float32x4_t (&acc)[R][VECS], std::integer_sequence<int, r...>) const {
    (fma_row<N / K - S * r, N % K>(x, acc[r], std::make_integer_sequence<int, VECS>{}), ...);
  }
  // acc[v] += vector v of window x * w[tap] (kernel row KY, column TAP), if KY is in the kernel.
  template <int KY, int TAP, class W, int... v>
  PP_INLINE void fma_row(const W& x, float32x4_t (&acc)[VECS], std::integer_sequence<int, v...>) const {
    if constexpr (KY >= 0 && KY < K) {
      constexpr int t = 1 + KY * K + TAP;  // weight index: bias first
      ((acc[v] = fma_lane<t % 4>(acc[v], x.v[v], w[t / 4])), ...);
    }
  }

  // Windows n = i * K + j in load order (row i, tap j). Window n + 1 is loaded before the
  // FMLAs on window n, into the other register bank, so an in-order core (Cortex-A53) does
  // not wait for the load. The asm is volatile to keep this order: GCC's scheduler would
  // otherwise hoist loads and then copy the fixed registers around.
  template <int R, int... N>
  PP_INLINE void windows(const float* (&in)[kInputRows<R>], float32x4_t (&acc)[R][VECS], Window<VECS, 0>& even,
                         Window<VECS, 1>& odd, std::integer_sequence<int, N...>) const {
    (window<R, N>(in, acc, even, odd), ...);
  }
  template <int R, int N>
  PP_INLINE void window(const float* (&in)[kInputRows<R>], float32x4_t (&acc)[R][VECS], Window<VECS, 0>& even,
                        Window<VECS, 1>& odd) const {
    if constexpr (N + 1 < kInputRows<R> * K) {
      if constexpr ((N + 1) % 2 == 0) {
        load_window<R, N + 1>(in, even);
      } else {
        load_window<R, N + 1>(in, odd);
      }
    }
    if constexpr (N % 2 == 0) {
      fma_window<N>(even, acc, std::make_integer_sequence<int, R>{});
    } else {
      fma_window<N>(odd, acc, std::make_integer_sequence<int, R>{});
    }
  }

  // One R x COLS tile: input pointers advance to the next tile, accumulators come out clamped.
  template <int R>
  PP_INLINE void tile(const float* (&in)[kInputRows<R>], float32x4_t (&acc)[R][VECS]) const {
    unroll<R>([&](auto r) PP_INLINE_LAMBDA { unroll<VECS>([&](auto v) PP_INLINE_LAMBDA { acc[r][v] = vbias; }); });
    Window<VECS, 0> even;
    Window<VECS, 1> odd;
    load_window<R, 0>(in, even);
    windows<R>(in, acc, even, odd, std::make_integer_sequence<int, kInputRows<R> * K>{});
    if constexpr (CLAMP) {
      float32x4_t vmin = vmin_, vmax = vmax_;
      if constexpr (kReloadClamp) {
        // min and max come back with one LD2R into the (now free) window registers, so they
        // occupy no register during the FMLAs.
        register float32x4_t min_reg __asm__("v16");
        register float32x4_t max_reg __asm__("v17");
        __asm__ volatile("ld2r {v16.4s, v17.4s}, [%2]"
                         : "=w"(min_reg), "=w"(max_reg) : "r"(params));
        vmin = min_reg;
        vmax = max_reg;
      }
      unroll<R>([&](auto r) PP_INLINE_LAMBDA {
        unroll<VECS>([&](auto v) PP_INLINE_LAMBDA {
          acc[r][v] = vminq_f32(vmaxq_f32(acc[r][v], vmin), vmax);
        });
      });
    }
  }

  template <int R>
  PP_INLINE void rows(size_t output_width, const float* input, float* output,
                           size_t input_stride, size_t output_stride) const {
    const float* in[kInputRows<R>];
    float* out[R];
    unroll<kInputRows<R>>([&](auto i) PP_INLINE_LAMBDA {
      in[i] = reinterpret_cast<const float*>(reinterpret_cast<const char*>(input) +
                                             i * S * input_stride);
    });
    unroll<R>([&](auto r) PP_INLINE_LAMBDA {
      out[r] = reinterpret_cast<float*>(reinterpret_cast<char*>(output) + r * output_stride);
    });
    float32x4_t acc[R][VECS];
    for (size_t n = output_width / COLS; n != 0; n--) {
      tile<R>(in, acc);
      unroll<R>([&](auto r) PP_INLINE_LAMBDA {
        unroll<VECS>([&](auto v) PP_INLINE_LAMBDA { vst1q_f32(out[r] + 4 * v, acc[r][v]); });
        out[r] += COLS;
      });
    }
    const size_t rest = output_width % COLS;
    if (rest != 0) {
      tile<R>(in, acc);  // reads into the row slack; stores only `rest` columns
      unroll<R>([&](auto r) PP_INLINE_LAMBDA {
        float* o = out[r];
        float32x4_t last = acc[r][0];
        unroll<VECS>([&](auto v) PP_INLINE_LAMBDA {
          if (rest >= 4 * (v + 1)) {
            vst1q_f32(o, acc[r][v]);
            o += 4;
          } else if (rest >= 4 * v) {
            last = acc[r][v];
          }
        });
        pp_neon::store_first(o, last, rest & 3);
      });
    }
  }

  PP_INLINE void run(size_t output_height, size_t output_width, const float* input,
                          float* output, size_t input_stride, size_t output_stride) const {
    // Padded rows between consecutive tiles: S * ROWS, each S physical rows.
    const size_t input_tile_stride = S * S * ROWS * input_stride;
    for (; output_height >= ROWS; output_height -= ROWS) {
      rows<ROWS>(output_width, input, output, input_stride, output_stride);
      input = reinterpret_cast<const float*>(reinterpret_cast<const char*>(input) +
                                             input_tile_stride);
      output = reinterpret_cast<float*>(reinterpret_cast<char*>(output) + ROWS * output_stride);
    }
    unroll<ROWS>([&](auto r) PP_INLINE_LAMBDA {
      if constexpr (PP_CONST(r) > 0) {
        if (output_height == PP_CONST(r)) rows<PP_CONST(r)>(output_width, input, output, input_stride, output_stride);
      }
    });
  }
};

}  // namespace dwconv2d_chw_neon
}  // namespace pyprune

// Defines the extern "C" microkernel `name` as Kernel<k, s, rows, cols>. Without an activation
// (min = -inf, max = +inf) the clamp is the identity, NaN included, so it is skipped: one test
// per call, 2 of the 11 or 27 vector instructions per 4 outputs saved.
#define PP_DWCONV2D_CHW_NEON_UKERNEL(name, k, s, tile_rows, tile_cols)                        \
  extern "C" __attribute__((flatten)) void name(                                 \
      size_t output_height, size_t output_width, const float* input, const float* weights,    \
      float* output, size_t input_stride, size_t output_stride,                               \
      const pp_f32_minmax_params* params) {                                                   \
    PP_ASSERT(output_height != 0 && output_width != 0);                                       \
    using pyprune::dwconv2d_chw_neon::Kernel;                                                 \
    if (params->min == -__builtin_inff() && params->max == __builtin_inff()) {                \
      const Kernel<k, s, tile_rows, tile_cols, false> kernel(weights, input_stride, params);  \
      kernel.run(output_height, output_width, input, output, input_stride, output_stride);    \
    } else {                                                                                  \
      const Kernel<k, s, tile_rows, tile_cols, true> kernel(weights, input_stride, params);   \
      kernel.run(output_height, output_width, input, output, input_stride, output_stride);    \
    }                                                                                         \
  }
