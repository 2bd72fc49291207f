// AVX-512 traits of the x86 kernels with output channels across the lanes (outvec-x86.h), for
// every f32-conv2d-outvec-*-avx512.cc file (compile those with -mavx512f -mavx512bw
// -mavx512dq -mavx512vl -mfma only): 32 zmm registers, one transpose of 16 pixels, each
// channel's pixels stored under a lane mask.
#pragma once

#include <immintrin.h>

#include "outvec-x86.h"
#include "pyprune/unroll.h"
#include "pyprune/x86_vector.h"

namespace pp_f32_conv2d_outvec_avx512 {

using pyprune::unroll;

struct Traits : pp_x86::Avx512 {
  static constexpr int kRegisters = 32;

  // Rows r[0..15] (lanes = channels) to columns: r[c] becomes channel c's 16 pixels.
  static PP_INLINE void transpose(__m512 (&r)[16]) {
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

  // The first N (1..16) floats of v at p.
  template <int N>
  static PP_INLINE void store_row(float* p, __m512 v) {
    _mm512_mask_storeu_ps(p, static_cast<__mmask16>((1u << N) - 1), v);
  }
};

}  // namespace pp_f32_conv2d_outvec_avx512

#define PP_F32_CONV2D_OUTVEC_AVX512_UKERNEL(name, MR, NV) \
  PP_F32_CONV2D_OUTVEC_X86_UKERNEL(name, pp_f32_conv2d_outvec_avx512::Traits, MR, NV)
