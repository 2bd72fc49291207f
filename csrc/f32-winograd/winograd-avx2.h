// AVX2+FMA primitives of the Winograd transforms (winograd-math.h), shared by the
// f32-winograd-*-avx2.cc files (compile those with -mavx2 -mfma only): lanes are 8 tiles.
//
// Patch rows are read without gathers. F(4, 3): the 4 floats of each tile are one 128-bit
// load, tiles t and t + 4 paired in one register, then a 4x4 transpose in each 128-bit lane
// (8 shuffles) gives columns 0-3 in tile order; columns 4-5 repeat it one tile further on
// (one more load, 4 shuffles). F(6, 3): each tile's columns come as 64-bit pairs (2k, 2k + 1),
// four tiles' pairs per register, split into even and odd columns by one shuffle per column.
// Output rows are interleaved back the same ways.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "pyprune/x86_vector.h"
#include "winograd-math.h"

namespace pp_winograd {

struct Avx2 {
  using T = __m256;
  static constexpr size_t kLanes = 8;

  static PP_INLINE T add(T a, T b) { return _mm256_add_ps(a, b); }
  static PP_INLINE T sub(T a, T b) { return _mm256_sub_ps(a, b); }
  static PP_INLINE T mul(T x, float k) { return _mm256_mul_ps(x, _mm256_set1_ps(k)); }
  static PP_INLINE T madd(T x, float k, T y) { return _mm256_fmadd_ps(x, _mm256_set1_ps(k), y); }
  static PP_INLINE T splat(float x) { return _mm256_set1_ps(x); }
  // maxps/minps return their second operand when either is NaN: NaN propagates.
  static PP_INLINE T clamp(T v, T lo, T hi) { return _mm256_min_ps(hi, _mm256_max_ps(lo, v)); }
  static PP_INLINE T load(const float* p) { return _mm256_loadu_ps(p); }
  static PP_INLINE void store(float* p, T v) { _mm256_storeu_ps(p, v); }
  static PP_INLINE void store_first(float* p, T v, size_t n) { pp_x86::Avx2::store_first(p, v, n); }

  // [x[a .. a + 4) | x[b .. b + 4)]
  static PP_INLINE T pair128(const float* x, size_t a, size_t b) {
    return _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(x + a)), _mm_loadu_ps(x + b), 1);
  }
  // [x[a], x[a + 1], x[b], x[b + 1]] (two 64-bit loads)
  static PP_INLINE __m128 pair64(const float* x, size_t a, size_t b) {
    const __m128 lo = _mm_castsi128_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(x + a)));
    return _mm_loadh_pi(lo, reinterpret_cast<const __m64*>(x + b));
  }
  // d[j] lane t = x[4 t + j], j < 4, from q[k] = [tile k | tile k + 4] (a 4x4 transpose per lane).
  static PP_INLINE void transpose4(const T* q, T* d) {
    const T t0 = _mm256_unpacklo_ps(q[0], q[1]), t1 = _mm256_unpackhi_ps(q[0], q[1]);
    const T t2 = _mm256_unpacklo_ps(q[2], q[3]), t3 = _mm256_unpackhi_ps(q[2], q[3]);
    d[0] = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
    d[1] = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
    d[2] = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
    d[3] = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
  }
  // d[2k] and d[2k + 1] lane t = x[6 t + 2k], x[6 t + 2k + 1], for k < K.
  template <size_t K>
  static PP_INLINE void pairs6(const float* x, T* d) {
    pyprune::unroll<K>([&](auto kk) PP_INLINE_LAMBDA {
      constexpr size_t k = PP_CONST(kk);
      const T y = _mm256_insertf128_ps(_mm256_castps128_ps256(pair64(x, 2 * k, 6 + 2 * k)),
                                       pair64(x, 24 + 2 * k, 30 + 2 * k), 1);  // tiles 0, 1 | 4, 5
      const T z = _mm256_insertf128_ps(_mm256_castps128_ps256(pair64(x, 12 + 2 * k, 18 + 2 * k)),
                                       pair64(x, 36 + 2 * k, 42 + 2 * k), 1);  // tiles 2, 3 | 6, 7
      d[2 * k] = _mm256_shuffle_ps(y, z, _MM_SHUFFLE(2, 0, 2, 0));
      d[2 * k + 1] = _mm256_shuffle_ps(y, z, _MM_SHUFFLE(3, 1, 3, 1));
    });
  }

  template <size_t M>
  static PP_INLINE void load_tiles(const float* x, T* y) {
    if constexpr (M == 4) {
      const T q[4] = {pair128(x, 0, 16), pair128(x, 4, 20), pair128(x, 8, 24), pair128(x, 12, 28)};
      transpose4(q, y);
    } else {
      pairs6<3>(x, y);
    }
  }

  template <size_t M>
  static PP_INLINE void load_patches(const float* x, T* d) {
    if constexpr (M == 4) {
      const T q[5] = {pair128(x, 0, 16), pair128(x, 4, 20), pair128(x, 8, 24), pair128(x, 12, 28),
                      pair128(x, 16, 32)};
      transpose4(q, d);
      // Columns 4 and 5: columns 0 and 1 of the next tile, from q[1..4].
      const T t0 = _mm256_unpacklo_ps(q[1], q[2]), t2 = _mm256_unpacklo_ps(q[3], q[4]);
      d[4] = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
      d[5] = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
    } else {
      pairs6<4>(x, d);
    }
  }

  template <size_t M>
  static PP_INLINE void store_tiles(const T* y, float* x) {
    if constexpr (M == 4) {
      // The inverse of transpose4: r[k] = [tile k | tile k + 4], then tiles in memory order.
      const T t0 = _mm256_unpacklo_ps(y[0], y[1]), t1 = _mm256_unpackhi_ps(y[0], y[1]);
      const T t2 = _mm256_unpacklo_ps(y[2], y[3]), t3 = _mm256_unpackhi_ps(y[2], y[3]);
      const T r0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
      const T r1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
      const T r2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
      const T r3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
      _mm256_storeu_ps(x, _mm256_permute2f128_ps(r0, r1, 0x20));
      _mm256_storeu_ps(x + 8, _mm256_permute2f128_ps(r2, r3, 0x20));
      _mm256_storeu_ps(x + 16, _mm256_permute2f128_ps(r0, r1, 0x31));
      _mm256_storeu_ps(x + 24, _mm256_permute2f128_ps(r2, r3, 0x31));
    } else {
      pyprune::unroll<3>([&](auto kk) PP_INLINE_LAMBDA {
        constexpr size_t k = PP_CONST(kk);
        const T lo = _mm256_unpacklo_ps(y[2 * k], y[2 * k + 1]);  // pairs of tiles 0, 1 | 4, 5
        const T hi = _mm256_unpackhi_ps(y[2 * k], y[2 * k + 1]);  // tiles 2, 3 | 6, 7
        const __m128 lo0 = _mm256_castps256_ps128(lo), lo1 = _mm256_extractf128_ps(lo, 1);
        const __m128 hi0 = _mm256_castps256_ps128(hi), hi1 = _mm256_extractf128_ps(hi, 1);
        _mm_storel_pi(reinterpret_cast<__m64*>(x + 2 * k), lo0);
        _mm_storeh_pi(reinterpret_cast<__m64*>(x + 6 + 2 * k), lo0);
        _mm_storel_pi(reinterpret_cast<__m64*>(x + 12 + 2 * k), hi0);
        _mm_storeh_pi(reinterpret_cast<__m64*>(x + 18 + 2 * k), hi0);
        _mm_storel_pi(reinterpret_cast<__m64*>(x + 24 + 2 * k), lo1);
        _mm_storeh_pi(reinterpret_cast<__m64*>(x + 30 + 2 * k), lo1);
        _mm_storel_pi(reinterpret_cast<__m64*>(x + 36 + 2 * k), hi1);
        _mm_storeh_pi(reinterpret_cast<__m64*>(x + 42 + 2 * k), hi1);
      });
    }
  }
};

}  // namespace pp_winograd

#define PP_F32_WINOGRAD_INPUT_AVX2_UKERNEL(name, tile)                                                  \
  extern "C" void name(size_t tiles, const float* input, size_t input_stride, float* output,       \
                       size_t output_stride) {                                                     \
    pp_winograd::input_transform<pp_winograd::Avx2, tile>(tiles, input, input_stride, output, output_stride); \
  }

#define PP_F32_WINOGRAD_OUTPUT_AVX2_UKERNEL(name, tile)                                                    \
  extern "C" void name(size_t tiles, size_t rows, size_t columns, const float* input,                 \
                       size_t input_stride, float bias, const float* residual, float* output,         \
                       size_t output_stride, const pp_f32_minmax_params* params) {                    \
    pp_winograd::output_transform<pp_winograd::Avx2, tile>(tiles, rows, columns, input, input_stride, bias, \
                                                           residual, output, output_stride, params);   \
  }
