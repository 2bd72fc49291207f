// 3x3 stride-2 padding-1 f32 convolution of NCHW planes + bias + min/max clamp,
// AVX-512, tiles of 8 output channels x 32 output columns (design: conv2d-3x3s2p1-x86.h).
// Per input row and tap: 4 loads, 2 VPERMT2PS, 8 broadcasts and 16 FMAs.
#include <immintrin.h>

#include "conv2d-3x3s2p1-x86.h"

namespace {

struct Avx512 {
  using Vec = __m512;
  using Mask = __mmask16;
  static constexpr int kLanes = 16;

  static Mask lanes(ptrdiff_t lo, ptrdiff_t hi) {
    lo = std::clamp<ptrdiff_t>(lo, 0, kLanes);
    hi = std::clamp<ptrdiff_t>(hi, lo, kLanes);
    return static_cast<Mask>((1u << hi) - (1u << lo));
  }
  static Vec load(const float* p) { return _mm512_loadu_ps(p); }
  static Vec load(const float* p, Mask m) { return _mm512_maskz_loadu_ps(m, p); }
  static Vec even(Vec a, Vec b) {
    const __m512i index = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    return _mm512_permutex2var_ps(a, index, b);
  }
  static Vec set1(float x) { return _mm512_set1_ps(x); }
  static Vec fma(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }
  // max then min: the second operand is returned for NaN, so NaN propagates.
  static Vec clamp(Vec v, Vec lo, Vec hi) { return _mm512_min_ps(hi, _mm512_max_ps(lo, v)); }
  static void store(float* p, Vec v) { _mm512_storeu_ps(p, v); }
  static void store(float* p, Vec v, Mask m) { _mm512_mask_storeu_ps(p, m, v); }
};

}  // namespace

extern "C" void pp_f32_conv2d_3x3s2p1_minmax_ukernel_8x32__avx512(size_t mr, size_t channels, size_t first_row,
                                                                  size_t rows, size_t input_height,
                                                                  size_t input_width, const float* input,
                                                                  const float* packed_w, float* output,
                                                                  size_t output_stride, const float* zero,
                                                                  const pp_f32_minmax_params* params) {
  pp_f32_conv2d_3x3s2p1_x86::run<Avx512, 8, 2>(mr, channels, first_row, rows, input_height, input_width, input,
                                               packed_w, output, output_stride, zero, params);
}
