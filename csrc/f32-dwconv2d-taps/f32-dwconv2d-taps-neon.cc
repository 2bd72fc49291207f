// NEON f32 depthwise convolution of any window from tap pointers (contract: ukernels.h). Tile:
// ROWS output rows x NV vectors of 4 outputs, one q accumulator each (4 x 4: 16 of the 32
// registers). Per tap: the tap's pointer, one weight broadcast (ld1r), one multi-register load
// per row (ld1 {4 x q}) and one FMLA per accumulator: 0.34 instructions per multiply-add. Loads
// run whole vectors (the contract's overread); the last vector's store keeps to the row.
#include <arm_neon.h>

#include <algorithm>

#include "pyprune/neon_vector.h"
#include "pyprune/ukernels.h"
#include "pyprune/unroll.h"

namespace {

using pyprune::unroll;

// v[0, NV) = the NV vectors at p, in one instruction.
template <int NV>
PP_INLINE void load(const float* p, float32x4_t (&v)[NV]) {
  if constexpr (NV == 4) {
    const float32x4x4_t q = vld1q_f32_x4(p);
    v[0] = q.val[0], v[1] = q.val[1], v[2] = q.val[2], v[3] = q.val[3];
  } else if constexpr (NV == 3) {
    const float32x4x3_t q = vld1q_f32_x3(p);
    v[0] = q.val[0], v[1] = q.val[1], v[2] = q.val[2];
  } else if constexpr (NV == 2) {
    const float32x4x2_t q = vld1q_f32_x2(p);
    v[0] = q.val[0], v[1] = q.val[1];
  } else {
    v[0] = vld1q_f32(p);
  }
}

// Rows [0, ROWS) x outputs [0, 4 * NV) at `offset` bytes into every tap row; the last vector
// stores its first `last` (1..4) lanes.
template <int ROWS, int NV>
PP_INLINE void tile(size_t taps, const float* const* tap_rows, size_t offset, size_t row_step, const float* weights,
                    float* y, size_t y_stride, float32x4_t vmin, float32x4_t vmax, size_t last) {
  float32x4_t acc[ROWS][NV];
  const float32x4_t bias = vld1q_dup_f32(weights);
  unroll<ROWS>([&](auto r) PP_INLINE_LAMBDA {
    unroll<NV>([&](auto v) PP_INLINE_LAMBDA { acc[PP_CONST(r)][PP_CONST(v)] = bias; });
  });
  for (size_t t = 0; t < taps; t++) {
    const char* p = reinterpret_cast<const char*>(tap_rows[t]) + offset;
    const float32x4_t w = vld1q_dup_f32(weights + 1 + t);
    unroll<ROWS>([&](auto r) PP_INLINE_LAMBDA {
      constexpr int R = PP_CONST(r);
      float32x4_t x[NV];
      load<NV>(reinterpret_cast<const float*>(p + R * row_step), x);
      unroll<NV>([&](auto v) PP_INLINE_LAMBDA {
        constexpr int V = PP_CONST(v);
        acc[R][V] = vfmaq_f32(acc[R][V], w, x[V]);
      });
    });
  }
  unroll<ROWS>([&](auto r) PP_INLINE_LAMBDA {
    float* out = reinterpret_cast<float*>(reinterpret_cast<char*>(y) + PP_CONST(r) * y_stride);
    unroll<NV>([&](auto v) PP_INLINE_LAMBDA {
      constexpr int R = PP_CONST(r), V = PP_CONST(v);
      // FMAX/FMIN return NaN when either operand is NaN: NaN propagates.
      const float32x4_t clamped = vminq_f32(vmaxq_f32(acc[R][V], vmin), vmax);
      if (V == NV - 1) {
        pp_neon::store_first(out + 4 * V, clamped, last);
      } else {
        vst1q_f32(out + 4 * V, clamped);
      }
    });
  });
}

// All n outputs of ROWS rows, 16 at a time, then the rest in one to four vectors.
template <int ROWS>
PP_INLINE void rows_of(size_t n, size_t taps, const float* const* tap_rows, size_t offset, size_t row_step,
                       const float* weights, float* y, size_t y_stride, float32x4_t vmin, float32x4_t vmax) {
  size_t x = 0;
  for (; x + 16 <= n; x += 16)
    tile<ROWS, 4>(taps, tap_rows, offset + x * sizeof(float), row_step, weights, y + x, y_stride, vmin, vmax, 4);
  const size_t rest = n - x;
  if (rest == 0) return;
  const size_t vectors = (rest + 3) / 4, last = rest - 4 * (vectors - 1);
  const size_t at = offset + x * sizeof(float);
  switch (vectors) {
    case 4: tile<ROWS, 4>(taps, tap_rows, at, row_step, weights, y + x, y_stride, vmin, vmax, last); break;
    case 3: tile<ROWS, 3>(taps, tap_rows, at, row_step, weights, y + x, y_stride, vmin, vmax, last); break;
    case 2: tile<ROWS, 2>(taps, tap_rows, at, row_step, weights, y + x, y_stride, vmin, vmax, last); break;
    default: tile<ROWS, 1>(taps, tap_rows, at, row_step, weights, y + x, y_stride, vmin, vmax, last); break;
  }
}

}  // namespace

extern "C" void pp_f32_dwconv2d_taps_minmax_ukernel_4x16__neon(size_t rows, size_t n, size_t taps,
                                                                const float* const* tap_rows, size_t row_step,
                                                                const float* weights, float* y, size_t y_stride,
                                                                const pp_f32_minmax_params* params) {
  const float32x4_t vmin = vld1q_dup_f32(&params->min), vmax = vld1q_dup_f32(&params->max);
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
