// AVX2+FMA NCHW depthwise convolution microkernel template, shared by every
// f32-dwconv2d-chw-*-avx2-*.cc file (compile those with -mavx2 -mfma only).
//
// Tile: R output rows x 8*C output columns (C vectors of 8). Per tile the kernel walks the
// (R-1)*S+K padded input rows it needs once; each input vector is loaded once (a plain
// unaligned load: no shuffles, the stride-2 strip is already split into even/odd rows) and
// fed by FMA to every output row of the tile whose kernel window contains that input row.
//   stride 1, tap (i, j): padded row S*y+i, columns x0+j .. x0+j+7
//   stride 2, tap (i, j): physical row 2*(2y+i) + (j&1), index x0 + (j>>1)
// Weights: 3x3 keeps the 9 broadcast taps in ymm registers for the whole call; 5x5 keeps the
// 25 broadcast taps in an aligned stack block and loads one kernel column (5 taps) at a time
// (see "Loop order" below).
// Columns: full 8*C blocks, then full 8-blocks, then one masked 8-block for the ragged tail
// (it reads at most 7 floats past the last needed column: within the strip's row slack).
// Rows: R-row tiles, then one tile of the output_height % R remaining rows.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "pyprune/ukernels.h"
#include "pyprune/unroll.h"
#include "pyprune/x86_vector.h"

namespace pp_dwconv2d_chw_avx2 {

using pyprune::unroll;

// Broadcast weights. 3x3: the 9 taps live in ymm registers for the whole call. Larger: the K*K
// taps are stored broadcast in an L1-resident block, loaded one kernel column at a time.
template <int K>
struct Weights {
  alignas(32) float w[K * K][8];
  __m256 bias;
  PP_INLINE explicit Weights(const float* weights) {
    bias = _mm256_broadcast_ss(weights);
    for (int t = 0; t < K * K; t++) _mm256_store_ps(w[t], _mm256_broadcast_ss(weights + 1 + t));
  }
  PP_INLINE __m256 get(int t) const { return _mm256_load_ps(w[t]); }
};

template <>
struct Weights<3> {
  __m256 w[9];
  __m256 bias;
  PP_INLINE explicit Weights(const float* weights) {
    bias = _mm256_broadcast_ss(weights);
    for (int t = 0; t < 9; t++) w[t] = _mm256_broadcast_ss(weights + 1 + t);
  }
  PP_INLINE __m256 get(int t) const { return w[t]; }
};


// Loop order inside a tile.
//  - tap-row order (3x3): for each padded input row p, for each tap j: one load, then an FMA
//    into every output row y with 0 <= p - S*y < K. Needs all K*K weights in registers:
//    3x3 4x8 = 9 weights + 4 accumulators + 1 input; 18 loads per 36 FMAs.
//  - column order (5x5): for each kernel column j, load its K weights into registers, then
//    for each padded row p one load feeding up to K FMAs. 5x5 8x8 = 5 weights + 8
//    accumulators + 1 input; 5*12 input + 25 weight loads per 200 FMAs. (25 weights do not
//    fit in 16 ymm; as memory operands they cost a load per FMA, which made 5x5 load-bound.)
#ifndef PP_DWCONV2D_AVX2_COLUMN_ORDER_K
#define PP_DWCONV2D_AVX2_COLUMN_ORDER_K 5
#endif
template <int K>
constexpr bool kColumnOrder = K >= PP_DWCONV2D_AVX2_COLUMN_ORDER_K;

// Pins a value in a register: stops the compiler from re-folding a load into every FMA that
// uses it (K loads instead of one, often cache-line splits) or hoisting it into a spill.
#define PP_AVX2_PIN(v) __asm__("" : "+x"(v))

template <class V>
PP_INLINE void pin(V& v) {
  PP_AVX2_PIN(v);
}

// The loops inside a tile are folds over function templates, not unroll() with lambdas: GCC's
// front end slows down more than linearly with the number of lambdas it instantiates.

// The input vector for padded row p, tap column j, vector v: stride 1 reads row p at x + j;
// stride 2 reads physical row 2p + (j & 1) at x + (j >> 1).
template <int S, int p, int j, int v>
PP_INLINE __m256 load_input(const float* in, size_t in_stride) {
  constexpr int phys_row = S == 1 ? p : 2 * p + (j & 1);
  constexpr int col = S == 1 ? j : (j >> 1);
  __m256 a = _mm256_loadu_ps(reinterpret_cast<const float*>(reinterpret_cast<const char*>(in) + phys_row * in_stride) +
                             col + 8 * v);
  PP_AVX2_PIN(a);
  return a;
}

// Tap t of the broadcast weights, or of one kernel column held in registers.
template <int K>
PP_INLINE __m256 tap(const Weights<K>& wt, int t) {
  return wt.get(t);
}
template <int K>
PP_INLINE __m256 tap(const __m256 (&column)[K], int t) {
  return column[t];
}

// acc += a * tap kFirst + kStride * i of w (kernel row i), if the row is in the kernel.
template <int K, int i, int kFirst, int kStride, class W>
PP_INLINE void fma_row(__m256& acc, __m256 a, const W& w) {
  if constexpr (i >= 0 && i < K) acc = _mm256_fmadd_ps(a, tap(w, kFirst + kStride * i), acc);
}
// fma_row() of kernel row p - S*y into vector v of every output row y of the tile.
template <int K, int S, int p, int v, int kFirst, int kStride, int R, int NV, class W, int... y>
PP_INLINE void fma_rows(__m256 (&acc)[R][NV], __m256 a, const W& w, std::integer_sequence<int, y...>) {
  (fma_row<K, p - S * y, kFirst, kStride>(acc[y][v], a, w), ...);
}

// Tap-row order: padded row p, tap column j, vector v for n = (K p + j) NV + v.
template <int K, int S, int R, int NV, int... n>
PP_INLINE void tap_rows(__m256 (&acc)[R][NV], const float* in, size_t in_stride, const Weights<K>& wt,
                        std::integer_sequence<int, n...>) {
  (fma_rows<K, S, n / NV / K, n % NV, n / NV % K, K>(acc, load_input<S, n / NV / K, n / NV % K, n % NV>(in, in_stride),
                                                     wt, std::make_integer_sequence<int, R>{}),
   ...);
}

// Column order, kernel column j: its K taps into registers, then padded row p, vector v for
// m = NV p + v.
template <int K, int S, int j, int R, int NV, int... i, int... m>
PP_INLINE void tap_column(__m256 (&acc)[R][NV], const float* in, size_t in_stride, const Weights<K>& wt,
                          std::integer_sequence<int, i...>, std::integer_sequence<int, m...>) {
  __m256 wcol[K];
  ((wcol[i] = wt.get(i * K + j), pin(wcol[i])), ...);
  (fma_rows<K, S, m / NV, m % NV, 0, 1>(acc, load_input<S, m / NV, j, m % NV>(in, in_stride), wcol,
                                        std::make_integer_sequence<int, R>{}),
   ...);
}
// Column order: every kernel column j.
template <int K, int S, int R, int NV, int... j>
PP_INLINE void tap_columns(__m256 (&acc)[R][NV], const float* in, size_t in_stride, const Weights<K>& wt,
                           std::integer_sequence<int, j...>) {
  (tap_column<K, S, j>(acc, in, in_stride, wt, std::make_integer_sequence<int, K>{},
                       std::make_integer_sequence<int, ((R - 1) * S + K) * NV>{}),
   ...);
}

// One tile: R rows (starting at `in`, the first physical input row of output row 0 of the
// tile; `out` its output row) x NV vectors of 8 columns starting at column x (already folded
// into `in`/`out`). kMasked: store only the lanes in `mask` of the last vector.
template <int K, int S, int R, int NV, bool kMasked>
PP_INLINE void tile(const float* in, size_t in_stride, float* out, size_t out_stride,
                         const Weights<K>& wt, __m256 vmin, __m256 vmax, __m256i mask) {
  constexpr int P = (R - 1) * S + K;  // padded input rows feeding the tile
  __m256 acc[R][NV];
  unroll<R>([&](auto y) PP_INLINE_LAMBDA {
    unroll<NV>([&](auto v) PP_INLINE_LAMBDA { acc[y][v] = wt.bias; });
  });
  if constexpr (!kColumnOrder<K>) {
    tap_rows<K, S>(acc, in, in_stride, wt, std::make_integer_sequence<int, P * K * NV>{});
  } else {
    tap_columns<K, S>(acc, in, in_stride, wt, std::make_integer_sequence<int, K>{});
  }
  unroll<R>([&](auto y) PP_INLINE_LAMBDA {
    float* o = reinterpret_cast<float*>(reinterpret_cast<char*>(out) + PP_CONST(y) * out_stride);
    unroll<NV>([&](auto v) PP_INLINE_LAMBDA {
      __m256 r = _mm256_max_ps(vmin, acc[y][v]);  // NaN in acc survives (maxps returns arg 2)
      r = _mm256_min_ps(vmax, r);
      if constexpr (kMasked && PP_CONST(v) == NV - 1) {
        _mm256_maskstore_ps(o + 8 * PP_CONST(v), mask, r);
      } else {
        _mm256_storeu_ps(o + 8 * PP_CONST(v), r);
      }
    });
  });
}

// R output rows across the full output width.
template <int K, int S, int R, int C>
PP_INLINE void row_tile(size_t output_width, const float* in, size_t in_stride, float* out,
                             size_t out_stride, const Weights<K>& wt, __m256 vmin, __m256 vmax) {
  const __m256i none = _mm256_setzero_si256();
  size_t x = 0;
  // Input index of output column x: x (stride 1) or x within the even/odd rows (stride 2).
  if constexpr (C > 1) {
    for (; x + 8 * C <= output_width; x += 8 * C) {
      tile<K, S, R, C, false>(in + x, in_stride, out + x, out_stride, wt, vmin, vmax, none);
    }
  }
  for (; x + 8 <= output_width; x += 8) {
    tile<K, S, R, 1, false>(in + x, in_stride, out + x, out_stride, wt, vmin, vmax, none);
  }
  if (x < output_width) {
    const __m256i mask = pp_x86::Avx2::first_lanes(output_width - x);
    tile<K, S, R, 1, true>(in + x, in_stride, out + x, out_stride, wt, vmin, vmax, mask);
  }
}

// The output_height % R last rows, out of line (cold; keeps the main loop small). Rebuilds
// its own Weights from the raw weights (once per call) rather than taking the caller's.
template <int K, int S, int R, int C>
__attribute__((noinline)) void remainder_rows(size_t rows, size_t output_width, const float* in,
                                              size_t in_stride, float* out, size_t out_stride,
                                              const float* weights, __m256 vmin, __m256 vmax) {
  if constexpr (R > 1) {
    if (rows == R - 1) {
      const Weights<K> wt(weights);
      row_tile<K, S, R - 1, C>(output_width, in, in_stride, out, out_stride, wt, vmin, vmax);
    } else {
      remainder_rows<K, S, R - 1, C>(rows, output_width, in, in_stride, out, out_stride, weights,
                                     vmin, vmax);
    }
  }
}

template <int K, int S, int R, int C>
PP_INLINE void dwconv2d_chw(size_t output_height, size_t output_width, const float* input,
                                 const float* weights, float* output, size_t input_stride,
                                 size_t output_stride, const pp_f32_minmax_params* params) {
  const Weights<K> wt(weights);
  const __m256 vmin = _mm256_set1_ps(params->min);
  const __m256 vmax = _mm256_set1_ps(params->max);
  // Output row y starts at padded row S*y = physical row S*S*y.
  const size_t in_tile_step = static_cast<size_t>(S * S * R) * input_stride;
  size_t y = 0;
  for (; y + R <= output_height; y += R) {
    row_tile<K, S, R, C>(output_width, input, input_stride, output, output_stride, wt, vmin, vmax);
    input = reinterpret_cast<const float*>(reinterpret_cast<const char*>(input) + in_tile_step);
    output = reinterpret_cast<float*>(reinterpret_cast<char*>(output) + R * output_stride);
  }
  if (y < output_height) {
    remainder_rows<K, S, R, C>(output_height - y, output_width, input, input_stride, output,
                               output_stride, weights, vmin, vmax);
  }
}

}  // namespace pp_dwconv2d_chw_avx2

// Defines the extern "C" kernel `name` as dwconv2d_chw<K, S, R, C> (tile R x 8C).
#define PP_DWCONV2D_CHW_AVX2_UKERNEL(name, K, S, R, C)                                       \
  extern "C" void name(size_t output_height, size_t output_width,               \
                                    const float* input, const float* weights, float* output,  \
                                    size_t input_stride, size_t output_stride,               \
                                    const pp_f32_minmax_params* params) {                    \
    pp_dwconv2d_chw_avx2::dwconv2d_chw<K, S, R, C>(output_height, output_width, input,       \
                                                   weights, output, input_stride,            \
                                                   output_stride, params);                   \
  }
