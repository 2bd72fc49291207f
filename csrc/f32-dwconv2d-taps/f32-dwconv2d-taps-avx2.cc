// AVX2+FMA f32 depthwise convolution of any window from tap pointers (contract: ukernels.h;
// compile with -mavx2 -mfma only). Tile: ROWS output rows x NV vectors of 8 outputs, one ymm
// accumulator each (4 x 2: eight independent FMA chains, what Zen 3's and Intel's two FMA pipes
// of latency 4 need). Per tap: the tap's pointer, one weight broadcast, then one unaligned load
// and one FMA per accumulator, the rows row_step bytes apart. Loads run whole vectors (the
// contract's overread); the last vector's store keeps to the row.
#include <immintrin.h>

#include <algorithm>

#include "pyprune/ukernels.h"
#include "pyprune/unroll.h"
#include "pyprune/x86_vector.h"

namespace {

using pyprune::unroll;
using Avx2 = pp_x86::Avx2;

// Rows [0, ROWS) x outputs [0, 8 * NV) at `offset` bytes into every tap row; the last vector
// stores its first `last` (1..8) lanes.
template <int ROWS, int NV>
PP_INLINE void tile(size_t taps, const float* const* tap_rows, size_t offset, size_t row_step, const float* weights,
                    float* y, size_t y_stride, __m256 vmin, __m256 vmax, size_t last) {
  __m256 acc[ROWS][NV];
  const __m256 bias = _mm256_broadcast_ss(weights);
  unroll<ROWS>([&](auto r) PP_INLINE_LAMBDA {
    unroll<NV>([&](auto v) PP_INLINE_LAMBDA { acc[PP_CONST(r)][PP_CONST(v)] = bias; });
  });
  for (size_t t = 0; t < taps; t++) {
    const char* p = reinterpret_cast<const char*>(tap_rows[t]) + offset;
    const __m256 w = _mm256_broadcast_ss(weights + 1 + t);
    unroll<ROWS>([&](auto r) PP_INLINE_LAMBDA {
      const float* row = reinterpret_cast<const float*>(p + PP_CONST(r) * row_step);
      unroll<NV>([&](auto v) PP_INLINE_LAMBDA {
        constexpr int R = PP_CONST(r), V = PP_CONST(v);
        acc[R][V] = _mm256_fmadd_ps(w, _mm256_loadu_ps(row + 8 * V), acc[R][V]);
      });
    });
  }
  unroll<ROWS>([&](auto r) PP_INLINE_LAMBDA {
    float* out = reinterpret_cast<float*>(reinterpret_cast<char*>(y) + PP_CONST(r) * y_stride);
    unroll<NV>([&](auto v) PP_INLINE_LAMBDA {
      constexpr int R = PP_CONST(r), V = PP_CONST(v);
      // maxps/minps return the second operand on NaN: NaN propagates.
      const __m256 clamped = _mm256_min_ps(vmax, _mm256_max_ps(vmin, acc[R][V]));
      if (V == NV - 1) {
        Avx2::store_first(out + 8 * V, clamped, last);
      } else {
        _mm256_storeu_ps(out + 8 * V, clamped);
      }
    });
  });
}

// All n outputs of ROWS rows, 16 at a time, then the rest in one or two vectors.
template <int ROWS>
PP_INLINE void rows_of(size_t n, size_t taps, const float* const* tap_rows, size_t offset, size_t row_step,
                       const float* weights, float* y, size_t y_stride, __m256 vmin, __m256 vmax) {
  size_t x = 0;
  for (; x + 16 <= n; x += 16)
    tile<ROWS, 2>(taps, tap_rows, offset + x * sizeof(float), row_step, weights, y + x, y_stride, vmin, vmax, 8);
  const size_t rest = n - x;
  if (rest > 8) {
    tile<ROWS, 2>(taps, tap_rows, offset + x * sizeof(float), row_step, weights, y + x, y_stride, vmin, vmax, rest - 8);
  } else if (rest > 0) {
    tile<ROWS, 1>(taps, tap_rows, offset + x * sizeof(float), row_step, weights, y + x, y_stride, vmin, vmax, rest);
  }
}

}  // namespace

extern "C" void pp_f32_dwconv2d_taps_minmax_ukernel_4x16__avx2(size_t rows, size_t n, size_t taps,
                                                                const float* const* tap_rows, size_t row_step,
                                                                const float* weights, float* y, size_t y_stride,
                                                                const pp_f32_minmax_params* params) {
  const __m256 vmin = _mm256_set1_ps(params->min), vmax = _mm256_set1_ps(params->max);
  for (size_t r = 0; r < rows; r += 4) {
    float* out = reinterpret_cast<float*>(reinterpret_cast<char*>(y) + r * y_stride);
    const size_t offset = r * row_step;
    switch (std::min<size_t>(4, rows - r)) {
      case 4: rows_of<4>(n, taps, tap_rows, offset, row_step, weights, out, y_stride, vmin, vmax); break;
      case 3: rows_of<3>(n, taps, tap_rows, offset, row_step, weights, out, y_stride, vmin, vmax); break;
      case 2: rows_of<2>(n, taps, tap_rows, offset, row_step, weights, out, y_stride, vmin, vmax); break;
      default: rows_of<1>(n, taps, tap_rows, offset, row_step, weights, out, y_stride, vmin, vmax); break;
    }
  }
}
