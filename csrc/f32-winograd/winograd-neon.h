// NEON (AArch64) primitives of the Winograd transforms (winograd-math.h), shared by the
// f32-winograd-*-neon.cc files: lanes are 4 tiles.
//
// The structure loads and stores do the (de)interleaving. F(4, 3): LD4 splits 4 tiles' 16
// floats into columns 0-3, a second LD4 one tile further on gives columns 4-5; ST4 writes an
// output row back. F(6, 3): each tile's columns as 64-bit pairs (2k, 2k + 1), LD3 (.2d) splits
// 2 tiles into the 3 pairs, UZP1/UZP2 of two such registers give even and odd columns of 4
// tiles; columns 6-7 are columns 0-1 one tile further on (EXT). Output rows: ZIP1/ZIP2, ST3.
#pragma once

#include <arm_neon.h>

#include <cstddef>

#include "winograd-math.h"

namespace pp_winograd {

struct Neon {
  using T = float32x4_t;
  static constexpr size_t kLanes = 4;

  static PP_INLINE T add(T a, T b) { return vaddq_f32(a, b); }
  static PP_INLINE T sub(T a, T b) { return vsubq_f32(a, b); }
  static PP_INLINE T mul(T x, float k) { return vmulq_n_f32(x, k); }
  static PP_INLINE T madd(T x, float k, T y) { return vfmaq_n_f32(y, x, k); }
  static PP_INLINE T splat(float x) { return vdupq_n_f32(x); }
  // FMAX/FMIN return NaN when either operand is NaN.
  static PP_INLINE T clamp(T v, T lo, T hi) { return vminq_f32(hi, vmaxq_f32(lo, v)); }
  static PP_INLINE T load(const float* p) { return vld1q_f32(p); }
  static PP_INLINE void store(float* p, T v) { vst1q_f32(p, v); }
  static PP_INLINE void store_first(float* p, T v, size_t n) {
    if (n >= 2) vst1_f32(p, vget_low_f32(v));
    if (n == 3) vst1q_lane_f32(p + 2, v, 2);
    if (n == 1) vst1q_lane_f32(p, v, 0);
  }

  static PP_INLINE const float64_t* pairs(const float* x) { return reinterpret_cast<const float64_t*>(x); }
  // d[2k], d[2k + 1] lane t = x[6 t + 2k], x[6 t + 2k + 1] for k < 3.
  static PP_INLINE void split6(const float* x, T* d) {
    const float64x2x3_t a = vld3q_f64(pairs(x));       // tiles 0, 1
    const float64x2x3_t b = vld3q_f64(pairs(x + 12));  // tiles 2, 3
    pyprune::unroll<3>([&](auto kk) PP_INLINE_LAMBDA {
      constexpr int k = PP_CONST(kk);
      const T lo = vreinterpretq_f32_f64(a.val[k]), hi = vreinterpretq_f32_f64(b.val[k]);
      d[2 * k] = vuzp1q_f32(lo, hi);
      d[2 * k + 1] = vuzp2q_f32(lo, hi);
    });
  }

  template <size_t M>
  static PP_INLINE void load_tiles(const float* x, T* y) {
    if constexpr (M == 4) {
      const float32x4x4_t q = vld4q_f32(x);
      y[0] = q.val[0], y[1] = q.val[1], y[2] = q.val[2], y[3] = q.val[3];
    } else {
      split6(x, y);
    }
  }

  template <size_t M>
  static PP_INLINE void load_patches(const float* x, T* d) {
    load_tiles<M>(x, d);
    if constexpr (M == 4) {
      const float32x4x4_t next = vld4q_f32(x + 4);
      d[4] = next.val[0], d[5] = next.val[1];
    } else {
      const float32x2_t tail = vld1_f32(x + 24);  // columns 0-1 of tile 4
      d[6] = vextq_f32(d[0], vcombine_f32(tail, tail), 1);
      d[7] = vextq_f32(d[1], vdupq_lane_f32(tail, 1), 1);
    }
  }

  template <size_t M>
  static PP_INLINE void store_tiles(const T* y, float* x) {
    if constexpr (M == 4) {
      vst4q_f32(x, (float32x4x4_t{{y[0], y[1], y[2], y[3]}}));
    } else {
      float64x2x3_t lo, hi;  // pairs of tiles 0, 1 and of tiles 2, 3
      pyprune::unroll<3>([&](auto kk) PP_INLINE_LAMBDA {
        constexpr int k = PP_CONST(kk);
        lo.val[k] = vreinterpretq_f64_f32(vzip1q_f32(y[2 * k], y[2 * k + 1]));
        hi.val[k] = vreinterpretq_f64_f32(vzip2q_f32(y[2 * k], y[2 * k + 1]));
      });
      vst3q_f64(reinterpret_cast<float64_t*>(x), lo);
      vst3q_f64(reinterpret_cast<float64_t*>(x + 12), hi);
    }
  }
};

}  // namespace pp_winograd

#define PP_F32_WINOGRAD_INPUT_NEON_UKERNEL(name, tile)                                                  \
  extern "C" void name(size_t tiles, const float* input, size_t input_stride, float* output,       \
                       size_t output_stride) {                                                     \
    pp_winograd::input_transform<pp_winograd::Neon, tile>(tiles, input, input_stride, output, output_stride); \
  }

#define PP_F32_WINOGRAD_OUTPUT_NEON_UKERNEL(name, tile)                                                    \
  extern "C" void name(size_t tiles, size_t rows, size_t columns, const float* input,                 \
                       size_t input_stride, float bias, const float* residual, float* output,         \
                       size_t output_stride, const pp_f32_minmax_params* params) {                    \
    pp_winograd::output_transform<pp_winograd::Neon, tile>(tiles, rows, columns, input, input_stride, bias, \
                                                           residual, output, output_stride, params);   \
  }
