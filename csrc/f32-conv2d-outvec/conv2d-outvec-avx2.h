// AVX2+FMA traits of the x86 kernels with output channels across the lanes (outvec-x86.h),
// for every f32-conv2d-outvec-*-avx2.cc file (compile those with -mavx2 -mfma only): 16 ymm
// registers, pixels transposed 8 at a time, rows of 4, 6 or 8 pixels stored.
#pragma once

#include <immintrin.h>

#include "outvec-x86.h"
#include "pyprune/unroll.h"
#include "pyprune/x86_vector.h"

namespace pp_f32_conv2d_outvec_avx2 {

struct Traits : pp_x86::Avx2 {
  static constexpr int kRegisters = 16;

  // Rows r[0..7] (lanes = channels) to columns: r[j] becomes channel j's 8 pixels.
  static PP_INLINE void transpose(__m256 (&r)[8]) {
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
  static PP_INLINE void store_row(float* p, __m256 v) {
    static_assert(N == 4 || N == 6 || N == 8, "rows of 4, 6 or 8 pixels");
    if constexpr (N == 8) {
      _mm256_storeu_ps(p, v);
    } else {
      _mm_storeu_ps(p, _mm256_castps256_ps128(v));
      if constexpr (N == 6) _mm_storel_pi(reinterpret_cast<__m64*>(p + 4), _mm256_extractf128_ps(v, 1));
    }
  }
};

}  // namespace pp_f32_conv2d_outvec_avx2

#define PP_F32_CONV2D_OUTVEC_AVX2_UKERNEL(name, MR, NV) \
  PP_F32_CONV2D_OUTVEC_X86_UKERNEL(name, pp_f32_conv2d_outvec_avx2::Traits, MR, NV)
