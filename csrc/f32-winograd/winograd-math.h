// The SIMD Winograd transforms (contract in ukernels.h, "f32 Winograd"), written once for every
// vector ISA: lanes are tiles, so the 2-D transforms are plain vector arithmetic and every
// store of a position is a vector store. An ISA header (winograd-avx2.h, winograd-neon.h)
// supplies `S`, the vector type and its primitives:
//   T, kLanes; add, sub, mul(x, k), madd(x, k, y) = x * k + y (k a constant), splat,
//   clamp(v, min, max)
//   (NaN kept); load / store (kLanes floats), store_first(p, v, n) (lanes [0, n) only);
//   load_patches<m>(x, d): d[j] lane t = x[m * t + j] for j < m + 2 (the patch rows of kLanes
//   tiles); load_tiles<m>(x, y) and store_tiles<m>(y, x): y[j] lane t = x[m * t + j], j < m
//   (kLanes whole output tiles, read or written as kLanes * m consecutive floats).
// The 1-D transforms are the matrix products of pyprune/winograd.h, factored.
#pragma once

#include <algorithm>
#include <cstddef>

#include "pyprune/ukernels.h"
#include "pyprune/unroll.h"

namespace pp_winograd {

using pyprune::unroll;

template <size_t M>
struct Transform;

// F(4, 3): alpha = 6.
template <>
struct Transform<4> {
  // v = B^T d: 12 operations.
  template <class S, class T>
  static PP_INLINE void input(const T* d, T* v) {
    const T t0 = S::madd(d[2], -4.0f, d[4]);  // d4 - 4 d2
    const T t1 = S::madd(d[1], -4.0f, d[3]);  // d3 - 4 d1
    const T t2 = S::sub(d[4], d[2]);
    const T t3 = S::sub(d[3], d[1]);
    v[0] = S::madd(d[0], 4.0f, S::madd(d[2], -5.0f, d[4]));
    v[1] = S::add(t0, t1);
    v[2] = S::sub(t0, t1);
    v[3] = S::madd(t3, 2.0f, t2);
    v[4] = S::madd(t3, -2.0f, t2);
    v[5] = S::madd(d[1], 4.0f, S::madd(d[3], -5.0f, d[5]));
  }
  // o = A^T s: 10 operations.
  template <class S, class T>
  static PP_INLINE void output(const T* s, T* o) {
    const T a = S::add(s[1], s[2]), b = S::sub(s[1], s[2]);
    const T c = S::add(s[3], s[4]), d = S::sub(s[3], s[4]);
    o[0] = S::add(S::add(s[0], a), c);
    o[1] = S::madd(d, 2.0f, b);
    o[2] = S::madd(c, 4.0f, a);
    o[3] = S::add(S::madd(d, 8.0f, b), s[5]);
  }
};

// F(6, 3): alpha = 8.
template <>
struct Transform<6> {
  // v = B^T d: 26 operations.
  template <class S, class T>
  static PP_INLINE void input(const T* d, T* v) {
    v[0] = S::madd(S::sub(d[4], d[2]), 5.25f, S::sub(d[0], d[6]));
    v[7] = S::madd(S::sub(d[3], d[5]), 5.25f, S::sub(d[7], d[1]));
    const T p1 = S::madd(d[4], -4.25f, S::add(d[2], d[6]));
    const T q1 = S::madd(d[3], -4.25f, S::add(d[1], d[5]));
    v[1] = S::add(p1, q1);
    v[2] = S::sub(p1, q1);
    const T p3 = S::madd(d[4], -1.25f, S::madd(d[2], 0.25f, d[6]));
    const T q3 = S::madd(d[5], 2.0f, S::madd(d[3], -2.5f, S::mul(d[1], 0.5f)));
    v[3] = S::add(p3, q3);
    v[4] = S::sub(p3, q3);
    const T p5 = S::madd(d[4], -5.0f, S::madd(d[2], 4.0f, d[6]));
    const T q5 = S::madd(d[5], 0.5f, S::madd(d[3], -2.5f, S::add(d[1], d[1])));
    v[5] = S::add(p5, q5);
    v[6] = S::sub(p5, q5);
  }
  // o = A^T s: 20 operations.
  template <class S, class T>
  static PP_INLINE void output(const T* s, T* o) {
    const T a = S::add(s[1], s[2]), b = S::sub(s[1], s[2]);
    const T c = S::add(s[3], s[4]), d = S::sub(s[3], s[4]);
    const T e = S::add(s[5], s[6]), f = S::sub(s[5], s[6]);
    o[0] = S::madd(e, 32.0f, S::add(S::add(s[0], a), c));
    o[1] = S::madd(f, 16.0f, S::madd(d, 2.0f, b));
    o[2] = S::madd(e, 8.0f, S::madd(c, 4.0f, a));
    o[3] = S::madd(f, 4.0f, S::madd(d, 8.0f, b));
    o[4] = S::madd(e, 2.0f, S::madd(c, 16.0f, a));
    o[5] = S::add(S::madd(d, 32.0f, S::add(b, s[7])), f);
  }
};

template <class T>
PP_INLINE const T* byte_offset(const T* p, size_t bytes) {
  return reinterpret_cast<const T*>(reinterpret_cast<const char*>(p) + bytes);
}
template <class T>
PP_INLINE T* byte_offset(T* p, size_t bytes) {
  return reinterpret_cast<T*>(reinterpret_cast<char*>(p) + bytes);
}

// Keeps `staged` in memory: the passes of a transform meet there, so that neither holds the
// other's alpha^2 vectors in registers (more than a NEON or AVX2 register file: the compiler
// spilled them one by one, with a copy per use).
template <class T>
PP_INLINE void stage(T* staged) {
  __asm__ volatile("" : : "r"(staged) : "memory");
}

// Input transform, kLanes tiles at a time: the rows of each patch transformed (w = d B) into a
// stack buffer by columns, then each column (V = B^T w) read back as consecutive vectors and
// stored position by position (whole vectors).
template <class S, size_t M>
PP_INLINE void input_transform(size_t tiles, const float* input, size_t input_stride, float* output,
                               size_t output_stride) {
  using T = typename S::T;
  constexpr size_t A = M + 2, L = S::kLanes;
  PP_ASSERT(tiles >= 1);
  T w[A][A];  // w[j][i]: column j of row i's transform
  for (size_t t = 0; t < tiles; t += L) {
    unroll<A>([&](auto i) PP_INLINE_LAMBDA {
      T d[A], row[A];
      S::template load_patches<M>(byte_offset(input, PP_CONST(i) * input_stride) + t * M, d);
      Transform<M>::template input<S>(d, row);
      unroll<A>([&](auto j) PP_INLINE_LAMBDA { w[PP_CONST(j)][PP_CONST(i)] = row[PP_CONST(j)]; });
    });
    stage(w);
    float* out = output + t;
#pragma GCC unroll 1
    for (size_t j = 0; j < A; j++, out = byte_offset(out, output_stride)) {
      T v[A];
      Transform<M>::template input<S>(w[j], v);
      unroll<A>([&](auto i) PP_INLINE_LAMBDA { S::store(byte_offset(out, PP_CONST(i) * A * output_stride), v[PP_CONST(i)]); });
    }
  }
}

// Output transform, kLanes tiles at a time: the columns of each transformed tile reduced
// (s = A^T M) into a stack buffer, then each output row (y = s A), bias, residual and clamp applied in lanes of
// tiles and the row stored interleaved. A group the output cuts goes through a stack buffer.
template <class S, size_t M>
PP_INLINE void output_transform(size_t tiles, size_t rows, size_t columns, const float* input, size_t input_stride,
                                float bias, const float* residual, float* output, size_t output_stride,
                                const pp_f32_minmax_params* params) {
  using T = typename S::T;
  constexpr size_t A = M + 2, L = S::kLanes;
  PP_ASSERT(tiles >= 1 && rows >= 1 && rows <= M && columns > (tiles - 1) * M && columns <= tiles * M);
  const T vbias = S::splat(bias), vmin = S::splat(params->min), vmax = S::splat(params->max);
  T s[M][A];  // s[r]: row r of A^T M
  // A cut group's rows: what lies past the output there is left from earlier rows (or these
  // zeros) and only reaches lanes that are not stored.
  alignas(64) float cut[L * M] = {};
  for (size_t t = 0; t < tiles; t += L) {
    const float* in = input + t;
#pragma GCC unroll 1
    for (size_t j = 0; j < A; j++, in = byte_offset(in, input_stride)) {
      T column[A], o[M];
      unroll<A>([&](auto i) PP_INLINE_LAMBDA { column[PP_CONST(i)] = S::load(byte_offset(in, PP_CONST(i) * A * input_stride)); });
      Transform<M>::template output<S>(column, o);
      unroll<M>([&](auto r) PP_INLINE_LAMBDA { s[PP_CONST(r)][j] = o[PP_CONST(r)]; });
    }
    stage(s);
    const size_t first = t * M, count = std::min(L * M, columns - first);
    for (size_t r = 0; r < rows; r++) {
      T y[M];
      Transform<M>::template output<S>(s[r], y);
      unroll<M>([&](auto j) PP_INLINE_LAMBDA { y[PP_CONST(j)] = S::add(y[PP_CONST(j)], vbias); });
      float* out = byte_offset(output, r * output_stride) + first;
      const float* res = residual != nullptr ? byte_offset(residual, r * output_stride) + first : nullptr;
      const bool whole = count == L * M;
      if (res != nullptr) {
        if (!whole) {
          for (size_t i = 0; i < count; i += L) {
            if (count - i >= L) {
              S::store(cut + i, S::load(res + i));
            } else {
              std::copy(res + i, res + count, cut + i);
            }
          }
          res = cut;
        }
        T z[M];
        S::template load_tiles<M>(res, z);
        unroll<M>([&](auto j) PP_INLINE_LAMBDA { y[PP_CONST(j)] = S::add(y[PP_CONST(j)], z[PP_CONST(j)]); });
      }
      unroll<M>([&](auto j) PP_INLINE_LAMBDA { y[PP_CONST(j)] = S::clamp(y[PP_CONST(j)], vmin, vmax); });
      if (whole) {
        S::template store_tiles<M>(y, out);
      } else {
        S::template store_tiles<M>(y, cut);
        for (size_t i = 0; i < count; i += L) {
          if (count - i >= L) {
            S::store(out + i, S::load(cut + i));
          } else {
            S::store_first(out + i, S::load(cut + i), count - i);
          }
        }
      }
    }
  }
}

}  // namespace pp_winograd
