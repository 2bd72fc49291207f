// AVX2+FMA convolution kernel template with output channels across the lanes, shared by every
// f32-conv2d-outvec-*-avx2.cc file (compile those with -mavx2 -mfma only). Contract: ukernels.h.
//
// Tile: MR pixels x NV vectors of 8 output channels, MR*NV ymm accumulators (MR*NV + NV + 1
// <= 16). The tap loop, no im2col, is outvec-taps-x86.h's. The accumulators start at the bias.
// At the end each vector's MR pixels are transposed in registers, 8 at a time, so each
// channel's MR outputs go out as one row.
#pragma once

#include <immintrin.h>

#include <cstddef>

#include "outvec-taps-x86.h"
#include "pyprune/ukernels.h"
#include "pyprune/unroll.h"

namespace pp_f32_conv2d_outvec_avx2 {

using pyprune::unroll;

// Rows r[0..7] (lanes = channels) to columns: r[j] becomes channel j's 8 pixels.
PP_INLINE void transpose8x8(__m256 (&r)[8]) {
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  const __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  const __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  const __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  r[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
  r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
  r[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
  r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
  r[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
  r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
  r[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
  r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

// The first N (4, 6 or 8) floats of v at p.
template <int N>
PP_INLINE void store_first(float* p, __m256 v) {
  static_assert(N == 4 || N == 6 || N == 8, "rows of 4, 6 or 8 pixels");
  if constexpr (N == 8) {
    _mm256_storeu_ps(p, v);
  } else {
    _mm_storeu_ps(p, _mm256_castps256_ps128(v));
    if constexpr (N == 6) _mm_storel_pi(reinterpret_cast<__m64*>(p + 4), _mm256_extractf128_ps(v, 1));
  }
}

template <int MR, int NV>
PP_INLINE void kernel(size_t k, const float* const* pixels, const ptrdiff_t* offsets, const float* w, float* output,
                      size_t output_stride, const pp_f32_minmax_params* params) {
  static_assert(MR * NV + NV + 1 <= 16, "tile exceeds the 16 ymm registers");
  static_assert(MR % 8 == 0 || MR % 8 == 4 || MR % 8 == 6, "pixels go out 8 at a time, then 4 or 6");
  __m256 acc[MR][NV];
  unroll<NV>([&](auto v) PP_INLINE_LAMBDA {
    const __m256 bias = _mm256_loadu_ps(w + 8 * PP_CONST(v));
    unroll<MR>([&](auto p) PP_INLINE_LAMBDA { acc[PP_CONST(p)][PP_CONST(v)] = bias; });
  });
  w += 8 * NV;
  pp_f32_conv2d_outvec_x86::taps<pp_x86::Avx2, MR, NV>(k, pixels, offsets, w, acc);
  const __m256 vmin = _mm256_set1_ps(params->min), vmax = _mm256_set1_ps(params->max);
  char* out = reinterpret_cast<char*>(output);
  unroll<NV>([&](auto v) PP_INLINE_LAMBDA {
    unroll<(MR + 7) / 8>([&](auto q) PP_INLINE_LAMBDA {
      constexpr int first = 8 * PP_CONST(q), n = MR - first < 8 ? MR - first : 8;
      __m256 r[8];
      unroll<8>([&](auto j) PP_INLINE_LAMBDA {
        constexpr int J = PP_CONST(j);
        // maxps/minps return the second operand on NaN: NaN propagates.
        if constexpr (J < n)
          r[J] = _mm256_min_ps(vmax, _mm256_max_ps(vmin, acc[first + J][PP_CONST(v)]));
        else
          r[J] = _mm256_setzero_ps();
      });
      transpose8x8(r);
      unroll<8>([&](auto c) PP_INLINE_LAMBDA {
        store_first<n>(reinterpret_cast<float*>(out + (8 * PP_CONST(v) + PP_CONST(c)) * output_stride) + first,
                       r[PP_CONST(c)]);
      });
    });
  });
}

}  // namespace pp_f32_conv2d_outvec_avx2

#define PP_F32_CONV2D_OUTVEC_AVX2_UKERNEL(name, MR, NV)                                                   \
  extern "C" void name(size_t k, const float* const* pixels, const ptrdiff_t* offsets, const float* packed_w, \
                       float* output, size_t output_stride, const pp_f32_minmax_params* params) {             \
    pp_f32_conv2d_outvec_avx2::kernel<MR, NV>(k, pixels, offsets, packed_w, output, output_stride, params);    \
  }
