// AVX-512 traits of the x86 kernels with output channels across the lanes (outvec-x86.h), for
// every f32-conv2d-outvec-*-avx512.cc file (compile those with -mavx512f -mavx512bw
// -mavx512dq -mavx512vl -mfma only): 32 zmm registers, one transpose of 16 pixels, each
// channel's pixels stored under a lane mask (the transpose: x86_vector.h).
#pragma once

#include <immintrin.h>

#include "outvec-x86.h"
#include "pyprune/x86_vector.h"

namespace pp_f32_conv2d_outvec_avx512 {

struct Traits : pp_x86::Avx512 {
  static constexpr int kRegisters = 32;

  // The first N (1..16) floats of v at p.
  template <int N>
  static PP_INLINE void store_row(float* p, __m512 v) {
    _mm512_mask_storeu_ps(p, static_cast<__mmask16>((1u << N) - 1), v);
  }
};

}  // namespace pp_f32_conv2d_outvec_avx512

#define PP_F32_CONV2D_OUTVEC_AVX512_UKERNEL(name, MR, NV) \
  PP_F32_CONV2D_OUTVEC_X86_UKERNEL(name, pp_f32_conv2d_outvec_avx512::Traits, MR, NV)
