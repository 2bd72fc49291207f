// The x86-64 vector types of the SIMD microkernels written once for AVX2 and AVX-512: a kernel
// template takes one of these as its vector type. Each TU instantiates only the type its
// compile flags allow (-mavx2 -mfma, or the AVX-512 set), and the AVX-512 type exists only
// where the compiler targets AVX-512.
//   T, kLanes, Mask (a lane mask), first_lanes(n) (the mask of lanes [0, n), 0 <= n <= kLanes),
//   zero(), splat(const float*), load / store (unaligned; under a Mask: masked-off lanes read as zero
//   and are left alone in memory), fma(a, b, c) = a * b + c, add, clamp(v, lo, hi) keeping NaN;
//   AVX-512 also transpose(r), of 16 rows.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "pyprune/unroll.h"

namespace pp_x86 {

// Prefetches what a GEMM's k loop reads 1 KiB after p: its packed weights, read once per panel
// from DRAM where a model's weights outgrow L3 (ResNet-18's layer4: 9.4 MiB a layer), which the
// hardware prefetcher alone leaves arriving late (ResNet-18, 1 thread: 10 % faster on AVX-512;
// cold 1x1 layers 10-30 % on AVX2). Never faults, past the end included.
PP_INLINE void prefetch_ahead(const float* p) {
  _mm_prefetch(reinterpret_cast<const char*>(p) + 1024, _MM_HINT_T0);
}

// 8 ones then 8 zeros: loading at [8 - n] gives the AVX2 mask of the first n lanes.
alignas(64) inline constexpr int32_t kAvx2MaskTable[16] = {-1, -1, -1, -1, -1, -1, -1, -1,
                                                           0,  0,  0,  0,  0,  0,  0,  0};

struct Avx2 {
  using T = __m256;
  using Mask = __m256i;
  static constexpr int kLanes = 8;
  static PP_INLINE Mask first_lanes(size_t n) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(&kAvx2MaskTable[8 - n]));
  }
  static PP_INLINE T zero() { return _mm256_setzero_ps(); }
  static PP_INLINE T splat(const float* p) { return _mm256_broadcast_ss(p); }
  static PP_INLINE T load(const float* p) { return _mm256_loadu_ps(p); }
  static PP_INLINE T load(const float* p, Mask m) { return _mm256_maskload_ps(p, m); }
  static PP_INLINE void store(float* p, T v) { _mm256_storeu_ps(p, v); }
  static PP_INLINE void store(float* p, T v, Mask m) { _mm256_maskstore_ps(p, m, v); }
  // The first n (1..8) lanes of v, in pieces of 4, 2 and 1 floats: where a store under a mask
  // runs on every tile of a small plane, VMASKMOVPS, slow on AMD cores, would dominate.
  static PP_INLINE void store_first(float* p, T v, size_t n) {
    if (n == 8) return store(p, v);
    __m128 part = _mm256_castps256_ps128(v);
    if (n & 4) {
      _mm_storeu_ps(p, part);
      part = _mm256_extractf128_ps(v, 1);
      p += 4;
    }
    if (n & 2) {
      _mm_storel_pi(reinterpret_cast<__m64*>(p), part);
      part = _mm_movehl_ps(part, part);
      p += 2;
    }
    if (n & 1) _mm_store_ss(p, part);
  }
  static PP_INLINE T fma(T a, T b, T c) { return _mm256_fmadd_ps(a, b, c); }
  static PP_INLINE T add(T a, T b) { return _mm256_add_ps(a, b); }
  // max then min return their second operand for NaN, so NaN stays.
  static PP_INLINE T clamp(T v, T lo, T hi) { return _mm256_min_ps(hi, _mm256_max_ps(lo, v)); }
};

#if defined(__AVX512F__)
struct Avx512 {
  using T = __m512;
  using Mask = __mmask16;
  static constexpr int kLanes = 16;
  static PP_INLINE Mask first_lanes(size_t n) { return static_cast<Mask>((1u << n) - 1); }
  static PP_INLINE T zero() { return _mm512_setzero_ps(); }
  static PP_INLINE T splat(const float* p) { return _mm512_set1_ps(*p); }
  static PP_INLINE T load(const float* p) { return _mm512_loadu_ps(p); }
  static PP_INLINE T load(const float* p, Mask m) { return _mm512_maskz_loadu_ps(m, p); }
  static PP_INLINE void store(float* p, T v) { _mm512_storeu_ps(p, v); }
  static PP_INLINE void store(float* p, T v, Mask m) { _mm512_mask_storeu_ps(p, m, v); }
  static PP_INLINE T fma(T a, T b, T c) { return _mm512_fmadd_ps(a, b, c); }
  static PP_INLINE T add(T a, T b) { return _mm512_add_ps(a, b); }
  static PP_INLINE T clamp(T v, T lo, T hi) { return _mm512_min_ps(hi, _mm512_max_ps(lo, v)); }

  // Rows r[0..15] to columns: r[c] becomes lane c of every row (a 16x16 transpose).
  static PP_INLINE void transpose(__m512 (&r)[16]) {
    __m512 t[16], u[16];
    // t[2i], t[2i+1]: rows 2i and 2i+1 interleaved, low and high pairs of each 128-bit lane.
    pyprune::unroll<8>([&](auto i) PP_INLINE_LAMBDA {
      constexpr int I = PP_CONST(i);
      t[2 * I] = _mm512_unpacklo_ps(r[2 * I], r[2 * I + 1]);
      t[2 * I + 1] = _mm512_unpackhi_ps(r[2 * I], r[2 * I + 1]);
    });
    // u[4g + j], lane L: column 4L + j of rows 4g .. 4g + 3.
    pyprune::unroll<4>([&](auto g) PP_INLINE_LAMBDA {
      constexpr int G = 4 * PP_CONST(g);
      u[G] = _mm512_shuffle_ps(t[G], t[G + 2], 0x44);
      u[G + 1] = _mm512_shuffle_ps(t[G], t[G + 2], 0xEE);
      u[G + 2] = _mm512_shuffle_ps(t[G + 1], t[G + 3], 0x44);
      u[G + 3] = _mm512_shuffle_ps(t[G + 1], t[G + 3], 0xEE);
    });
    // Column 4L + j gathers lane L of u[j], u[4 + j], u[8 + j], u[12 + j].
    pyprune::unroll<4>([&](auto j) PP_INLINE_LAMBDA {
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
};
#endif

}  // namespace pp_x86
