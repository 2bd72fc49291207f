// AVX-512 convolution kernel template with output channels across the lanes, shared by every
// f32-conv2d-outvec-*-avx512.cc file (compile those with -mavx512f -mavx512bw -mavx512dq
// -mavx512vl -mfma only). Contract: ukernels.h.
//
// Tile: MR pixels x NV vectors of 16 output channels, MR*NV zmm accumulators (MR*NV + NV + 1
// <= 32). The tap loop, no im2col, is outvec-taps-x86.h's. The accumulators start at the bias.
// At the end each vector's MR pixels (at most 16) are transposed in registers, so each
// channel's MR outputs go out as one masked store.
#pragma once

#include <immintrin.h>

#include <cstddef>

#include "outvec-taps-x86.h"
#include "pyprune/ukernels.h"
#include "pyprune/unroll.h"

namespace pp_f32_conv2d_outvec_avx512 {

using pyprune::unroll;

// Rows r[0..15] (lanes = channels) to columns: r[c] becomes channel c's 16 pixels.
PP_INLINE void transpose16x16(__m512 (&r)[16]) {
  __m512 t[16], u[16];
  // t[2i], t[2i+1]: rows 2i and 2i+1 interleaved, low and high pairs of each 128-bit lane.
  unroll<8>([&](auto i) PP_INLINE_LAMBDA {
    constexpr int I = PP_CONST(i);
    t[2 * I] = _mm512_unpacklo_ps(r[2 * I], r[2 * I + 1]);
    t[2 * I + 1] = _mm512_unpackhi_ps(r[2 * I], r[2 * I + 1]);
  });
  // u[4g + j], lane L: column 4L + j of rows 4g .. 4g + 3.
  unroll<4>([&](auto g) PP_INLINE_LAMBDA {
    constexpr int G = 4 * PP_CONST(g);
    u[G] = _mm512_shuffle_ps(t[G], t[G + 2], 0x44);
    u[G + 1] = _mm512_shuffle_ps(t[G], t[G + 2], 0xEE);
    u[G + 2] = _mm512_shuffle_ps(t[G + 1], t[G + 3], 0x44);
    u[G + 3] = _mm512_shuffle_ps(t[G + 1], t[G + 3], 0xEE);
  });
  // Column 4L + j gathers lane L of u[j], u[4 + j], u[8 + j], u[12 + j].
  unroll<4>([&](auto j) PP_INLINE_LAMBDA {
    constexpr int J = PP_CONST(j);
    const __m512 even_lo = _mm512_shuffle_f32x4(u[J], u[4 + J], 0x88);
    const __m512 odd_lo = _mm512_shuffle_f32x4(u[J], u[4 + J], 0xDD);
    const __m512 even_hi = _mm512_shuffle_f32x4(u[8 + J], u[12 + J], 0x88);
    const __m512 odd_hi = _mm512_shuffle_f32x4(u[8 + J], u[12 + J], 0xDD);
    r[J] = _mm512_shuffle_f32x4(even_lo, even_hi, 0x88);
    r[4 + J] = _mm512_shuffle_f32x4(odd_lo, odd_hi, 0x88);
    r[8 + J] = _mm512_shuffle_f32x4(even_lo, even_hi, 0xDD);
    r[12 + J] = _mm512_shuffle_f32x4(odd_lo, odd_hi, 0xDD);
  });
}

template <int MR, int NV>
PP_INLINE void kernel(size_t k, const float* const* pixels, const ptrdiff_t* offsets, const float* w, float* output,
                      size_t output_stride, const pp_f32_minmax_params* params) {
  static_assert(MR * NV + NV + 1 <= 32, "tile exceeds the 32 zmm registers");
  static_assert(MR <= 16, "a vector's pixels go out in one transpose");
  __m512 acc[MR][NV];
  unroll<NV>([&](auto v) PP_INLINE_LAMBDA {
    const __m512 bias = _mm512_loadu_ps(w + 16 * PP_CONST(v));
    unroll<MR>([&](auto p) PP_INLINE_LAMBDA { acc[PP_CONST(p)][PP_CONST(v)] = bias; });
  });
  w += 16 * NV;
  pp_f32_conv2d_outvec_x86::taps<pp_x86::Avx512, MR, NV>(k, pixels, offsets, w, acc);
  const __m512 vmin = _mm512_set1_ps(params->min), vmax = _mm512_set1_ps(params->max);
  constexpr __mmask16 row = static_cast<__mmask16>((1u << MR) - 1);
  char* out = reinterpret_cast<char*>(output);
  unroll<NV>([&](auto v) PP_INLINE_LAMBDA {
    __m512 r[16];
    unroll<16>([&](auto p) PP_INLINE_LAMBDA {
      constexpr int P = PP_CONST(p);
      // maxps/minps return the second operand on NaN: NaN propagates.
      if constexpr (P < MR)
        r[P] = _mm512_min_ps(vmax, _mm512_max_ps(vmin, acc[P][PP_CONST(v)]));
      else
        r[P] = _mm512_setzero_ps();
    });
    transpose16x16(r);
    unroll<16>([&](auto c) PP_INLINE_LAMBDA {
      _mm512_mask_storeu_ps(reinterpret_cast<float*>(out + (16 * PP_CONST(v) + PP_CONST(c)) * output_stride), row,
                            r[PP_CONST(c)]);
    });
  });
}

}  // namespace pp_f32_conv2d_outvec_avx512

#define PP_F32_CONV2D_OUTVEC_AVX512_UKERNEL(name, MR, NV)                                                 \
  extern "C" void name(size_t k, const float* const* pixels, const ptrdiff_t* offsets, const float* packed_w, \
                       float* output, size_t output_stride, const pp_f32_minmax_params* params) {             \
    pp_f32_conv2d_outvec_avx512::kernel<MR, NV>(k, pixels, offsets, packed_w, output, output_stride, params);  \
  }
