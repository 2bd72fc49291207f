// AVX-512 NCHW depthwise convolution microkernel template, shared by every
// f32-dwconv2d-chw-*-avx512-*.cc file (compile those with -mavx512f -mavx512bw -mavx512dq
// -mavx512vl -mfma only).
//
// Tile: R output rows x 16 output columns (one zmm each). As in the AVX2 template
// (dwconv2d-chw-avx2.h), each input vector of the (R-1)*S+K padded rows a tile needs is loaded
// once (plain unaligned loads: the stride-2 strip is already split into even/odd rows) and
// fed by FMA to every output row whose kernel window contains it:
//   stride 1, tap (i, j): padded row S*y+i, columns x0+j .. x0+j+15
//   stride 2, tap (i, j): physical row 2*(2y+i) + (j&1), index x0 + (j>>1)
// Loop order: 3x3 walks the padded rows and taps with the 9 broadcast taps in registers; 5x5
// walks one kernel column at a time with its 5 taps in registers (see the AVX2 template).
// Columns: full 16-blocks, then the ragged rest under a lane mask, in a zmm (9..15 columns)
// or, for 1..8 columns, a ymm (half the work of a zmm: the 7- and 56-wide planes of 224x224
// networks end in 7 or 8 columns). Masked loads read nothing past the last column the output
// needs. Wider tiles (4x32) measured no faster than these: one vector per row is enough.
// Rows: R-row tiles, then one tile of the output_height % R remaining rows.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "pyprune/ukernels.h"
#include "pyprune/unroll.h"

namespace pp_dwconv2d_chw_avx512 {

using pyprune::unroll;

// 16 lanes (zmm) or 8 lanes (ymm, AVX-512VL masks) of floats.
struct Zmm {
  using V = __m512;
  using Mask = __mmask16;
  static constexpr size_t kLanes = 16;
  static V splat(const float* p) { return _mm512_set1_ps(*p); }
  static V load(const float* p) { return _mm512_loadu_ps(p); }
  static V load(const float* p, Mask m) { return _mm512_maskz_loadu_ps(m, p); }
  static void store(float* p, V v) { _mm512_storeu_ps(p, v); }
  static void store(float* p, V v, Mask m) { _mm512_mask_storeu_ps(p, m, v); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  // max(lo, v) then min(hi, v): the second operand is returned for NaN, so NaN stays.
  static V clamp(V v, V lo, V hi) { return _mm512_min_ps(hi, _mm512_max_ps(lo, v)); }
};

struct Ymm {
  using V = __m256;
  using Mask = __mmask8;
  static constexpr size_t kLanes = 8;
  static V splat(const float* p) { return _mm256_set1_ps(*p); }
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static V load(const float* p, Mask m) { return _mm256_maskz_loadu_ps(m, p); }
  static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  static void store(float* p, V v, Mask m) { _mm256_mask_storeu_ps(p, m, v); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V clamp(V v, V lo, V hi) { return _mm256_min_ps(hi, _mm256_max_ps(lo, v)); }
};

// The clamp bounds.
struct Bounds {
  float min, max;
};

template <int K>
constexpr bool kColumnOrder = K >= 5;

// Pins a value in a register (see PP_AVX2_PIN in dwconv2d-chw-avx2.h).
#define PP_AVX512_PIN(v) __asm__("" : "+v"(v))
template <class V>
PP_INLINE void pin(V& v) {
  PP_AVX512_PIN(v);
}

// The taps broadcast in L's vectors: all K*K kept in registers for the tap-row order (3x3);
// the column order (5x5) broadcasts each column's taps itself and leaves these unused.
template <class L, int K>
struct Taps {
  typename L::V v[kColumnOrder<K> ? 1 : K * K];
  PP_INLINE explicit Taps(const float* weights) {
    if constexpr (!kColumnOrder<K>) {
      for (int t = 0; t < K * K; t++) v[t] = L::splat(weights + 1 + t);
    }
  }
};

// The loops inside a tile are folds over function templates, not unroll() with lambdas: GCC's
// front end slows down more than linearly with the number of lambdas it instantiates.

// The input vector of padded row p, tap column j.
template <class L, int S, bool kMasked, int p, int j>
PP_INLINE typename L::V load_input(const float* in, size_t in_stride, typename L::Mask mask) {
  constexpr int phys_row = S == 1 ? p : 2 * p + (j & 1);
  constexpr int col = S == 1 ? j : (j >> 1);
  const float* src = reinterpret_cast<const float*>(reinterpret_cast<const char*>(in) + phys_row * in_stride) + col;
  typename L::V a = kMasked ? L::load(src, mask) : L::load(src);
  PP_AVX512_PIN(a);
  return a;
}

// acc += a * kernel row i of a tap column whose taps are kStride apart, if the row is in the kernel.
template <class L, int K, int i, int kStride>
PP_INLINE void fma_row(typename L::V& acc, typename L::V a, const typename L::V* column) {
  if constexpr (i >= 0 && i < K) acc = L::fma(a, column[i * kStride], acc);
}
// fma_row() of kernel row p - S*y into every output row y of the tile.
template <class L, int K, int S, int p, int kStride, int R, int... y>
PP_INLINE void fma_rows(typename L::V (&acc)[R], typename L::V a, const typename L::V* column,
                        std::integer_sequence<int, y...>) {
  (fma_row<L, K, p - S * y, kStride>(acc[y], a, column), ...);
}
// Tap-row order (3x3): padded row p, tap column j for n = K p + j.
template <class L, int K, int S, bool kMasked, int R, int... n>
PP_INLINE void tap_rows(typename L::V (&acc)[R], const float* in, size_t in_stride, const Taps<L, K>& taps,
                        typename L::Mask mask, std::integer_sequence<int, n...>) {
  (fma_rows<L, K, S, n / K, K>(acc, load_input<L, S, kMasked, n / K, n % K>(in, in_stride, mask), taps.v + n % K,
                               std::make_integer_sequence<int, R>{}),
   ...);
}

// Column order (5x5), tap column j: its K taps broadcast, then every padded row p.
template <class L, int K, int S, bool kMasked, int j, int R, int... i, int... p>
PP_INLINE void tap_column(typename L::V (&acc)[R], const float* in, size_t in_stride, const float* weights,
                          typename L::Mask mask, std::integer_sequence<int, i...>, std::integer_sequence<int, p...>) {
  typename L::V wcol[K];
  ((wcol[i] = L::splat(weights + 1 + i * K + j), pin(wcol[i])), ...);
  (fma_rows<L, K, S, p, 1>(acc, load_input<L, S, kMasked, p, j>(in, in_stride, mask), wcol,
                           std::make_integer_sequence<int, R>{}),
   ...);
}
// Column order (5x5): every tap column j.
template <class L, int K, int S, bool kMasked, int R, int... j>
PP_INLINE void tap_columns(typename L::V (&acc)[R], const float* in, size_t in_stride, const float* weights,
                           typename L::Mask mask, std::integer_sequence<int, j...>) {
  (tap_column<L, K, S, kMasked, j>(acc, in, in_stride, weights, mask, std::make_integer_sequence<int, K>{},
                                   std::make_integer_sequence<int, (R - 1) * S + K>{}),
   ...);
}

// One tile: R rows (starting at `in`, the first physical input row of output row 0 of the
// tile; `out` its output row) x one vector of L starting at the column already folded into
// `in`/`out`. kMasked: the vector is loaded and stored under `mask`.
template <class L, int K, int S, int R, bool kMasked>
PP_INLINE void tile(const float* in, size_t in_stride, float* out, size_t out_stride,
                    const float* weights, const Taps<L, K>& taps, Bounds bounds,
                    typename L::Mask mask) {
  using V = typename L::V;
  constexpr int P = (R - 1) * S + K;  // padded input rows feeding the tile
  V acc[R];
  const V bias = L::splat(weights);
  unroll<R>([&](auto y) PP_INLINE_LAMBDA { acc[PP_CONST(y)] = bias; });
  if constexpr (!kColumnOrder<K>) {
    tap_rows<L, K, S, kMasked>(acc, in, in_stride, taps, mask, std::make_integer_sequence<int, P * K>{});
  } else {
    tap_columns<L, K, S, kMasked>(acc, in, in_stride, weights, mask, std::make_integer_sequence<int, K>{});
  }
  const V vmin = L::splat(&bounds.min), vmax = L::splat(&bounds.max);
  unroll<R>([&](auto y) PP_INLINE_LAMBDA {
    float* o = reinterpret_cast<float*>(reinterpret_cast<char*>(out) + PP_CONST(y) * out_stride);
    const V r = L::clamp(acc[PP_CONST(y)], vmin, vmax);
    if constexpr (kMasked) {
      L::store(o, r, mask);
    } else {
      L::store(o, r);
    }
  });
}

// R output rows across the full output width.
template <int K, int S, int R>
PP_INLINE void row_tile(size_t output_width, const float* in, size_t in_stride, float* out, size_t out_stride,
                        const float* weights, const Taps<Zmm, K>& taps, Bounds bounds) {
  size_t x = 0;
  for (; x + 16 <= output_width; x += 16)
    tile<Zmm, K, S, R, false>(in + x, in_stride, out + x, out_stride, weights, taps, bounds, 0);
  const size_t rest = output_width - x;
  if (rest > 8) {
    const __mmask16 mask = static_cast<__mmask16>((1u << rest) - 1);
    tile<Zmm, K, S, R, true>(in + x, in_stride, out + x, out_stride, weights, taps, bounds, mask);
  } else if (rest != 0) {
    const Taps<Ymm, K> half(weights);
    const __mmask8 mask = static_cast<__mmask8>((1u << rest) - 1);
    tile<Ymm, K, S, R, true>(in + x, in_stride, out + x, out_stride, weights, half, bounds, mask);
  }
}

// The output_height % R last rows, out of line (cold; keeps the main loop small).
template <int K, int S, int R>
__attribute__((noinline)) void remainder_rows(size_t rows, size_t output_width, const float* in, size_t in_stride,
                                              float* out, size_t out_stride, const float* weights, Bounds bounds) {
  if constexpr (R > 1) {
    if (rows == R - 1) {
      const Taps<Zmm, K> taps(weights);
      row_tile<K, S, R - 1>(output_width, in, in_stride, out, out_stride, weights, taps, bounds);
    } else {
      remainder_rows<K, S, R - 1>(rows, output_width, in, in_stride, out, out_stride, weights, bounds);
    }
  }
}

template <int K, int S, int R>
PP_INLINE void dwconv2d_chw(size_t output_height, size_t output_width, const float* input, const float* weights,
                            float* output, size_t input_stride, size_t output_stride,
                            const pp_f32_minmax_params* params) {
  const Taps<Zmm, K> taps(weights);
  const Bounds bounds{params->min, params->max};
  // Output row y starts at padded row S*y = physical row S*S*y.
  const size_t in_tile_step = static_cast<size_t>(S * S * R) * input_stride;
  size_t y = 0;
  for (; y + R <= output_height; y += R) {
    row_tile<K, S, R>(output_width, input, input_stride, output, output_stride, weights, taps, bounds);
    input = reinterpret_cast<const float*>(reinterpret_cast<const char*>(input) + in_tile_step);
    output = reinterpret_cast<float*>(reinterpret_cast<char*>(output) + R * output_stride);
  }
  if (y < output_height)
    remainder_rows<K, S, R>(output_height - y, output_width, input, input_stride, output, output_stride, weights,
                               bounds);
}

}  // namespace pp_dwconv2d_chw_avx512

// Defines the extern "C" kernel `name` as dwconv2d_chw<K, S, R> (tile R x 16).
#define PP_DWCONV2D_CHW_AVX512_UKERNEL(name, K, S, R)                                                      \
  extern "C" void name(size_t output_height, size_t output_width, const float* input, const float* weights, \
                       float* output, size_t input_stride, size_t output_stride,                            \
                       const pp_f32_minmax_params* params) {                                                \
    pp_dwconv2d_chw_avx512::dwconv2d_chw<K, S, R>(output_height, output_width, input, weights, output,      \
                                                  input_stride, output_stride, params);                     \
  }
