// AVX2+FMA f32 GEMM microkernel template (1x1 convolution in NCHW), shared by every
// f32-gemm-*-avx2.cc file (compile those with -mavx2 -mfma only). Contract: ukernels.h.
//
// Tile: MR output channels x 8*NV pixels, MR*NV ymm accumulators (MR*NV + NV + 1 <= 16).
// Per k: NV unaligned loads of the b row (b is not packed: the activations, rows b_stride
// bytes apart), MR broadcasts (vbroadcastss from packed_w) and MR*NV FMAs. The accumulators
// start at the bias.
// Columns: full 8*NV blocks, then the ragged rest (nothing read or written past nc):
//  - for 4 < MR <= 8, rest = 8q + t with t in 1..4: q full vectors, then the t columns
//    transposed (lanes = rows, see columns()); t == 1 with a block before it is fused into
//    that block (kExtra, see block()): the 49-pixel 7x7 layers cost the same as 48 pixels;
//  - otherwise one block of ceil(rest / 8) vectors, the last one masked (maskload/maskstore).
// Rows: all MR rows are computed (packed_w is zero-filled past the layer's last channel), or
// only 4 when mr <= 4 < MR (the layer's last block); only rows < mr are stored.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "pyprune/ukernels.h"
#include "pyprune/unroll.h"
#include "pyprune/x86_vector.h"

namespace pp_f32_gemm_avx2 {

using pyprune::unroll;

// One MR x 8*NV block of c at columns [0, 8*NV) of b / c (pointers already offset).
// kMasked: the last vector is loaded and stored under `mask`.
// kExtra (4 < MR <= 8, unmasked): one more column, 8*NV, computed transposed in one extra
// accumulator (lanes = rows; see columns()) from the b rows this block is loading anyway, so a
// 1-column tail costs 1 FMA per k and no extra trip to L2. The last k is peeled: its 8-float
// weight load is masked to the MR lanes so nothing past the block is read.
template <int MR, int ROWS, int NV, bool kMasked, bool kExtra = false>
PP_INLINE void block(size_t mr, size_t kc, const char* b, size_t b_stride,
                               const float* packed_w, char* c, size_t c_stride,
                               __m256 vmin, __m256 vmax, __m256i mask) {
  static_assert(!kExtra || (MR > 4 && MR <= 8 && !kMasked && ROWS * NV + NV + 2 <= 16),
                "extra column: 4 < MR <= 8, unmasked, one more register");
  __m256 acc[ROWS][NV];
  unroll<ROWS>([&](auto m) PP_INLINE_LAMBDA {
    const __m256 bias = _mm256_broadcast_ss(packed_w + PP_CONST(m));
    unroll<NV>([&](auto v) PP_INLINE_LAMBDA { acc[PP_CONST(m)][PP_CONST(v)] = bias; });
  });
  // MR biases, then k = 0 weights in the unused lanes (never stored).
  __m256 extra = kExtra ? _mm256_loadu_ps(packed_w) : _mm256_setzero_ps();
  const float* w = packed_w + MR;
  auto step = [&](auto last) PP_INLINE_LAMBDA {
    pp_x86::prefetch_ahead(w);
    __m256 vb[NV];
    unroll<NV>([&](auto v) PP_INLINE_LAMBDA {
      constexpr int V = PP_CONST(v);
      const float* p = reinterpret_cast<const float*>(b) + 8 * V;
      vb[V] = (kMasked && V == NV - 1) ? _mm256_maskload_ps(p, mask) : _mm256_loadu_ps(p);
    });
    unroll<ROWS>([&](auto m) PP_INLINE_LAMBDA {
      constexpr int M = PP_CONST(m);
      const __m256 vw = _mm256_broadcast_ss(w + M);
      unroll<NV>([&](auto v) PP_INLINE_LAMBDA {
        constexpr int V = PP_CONST(v);
        acc[M][V] = _mm256_fmadd_ps(vw, vb[V], acc[M][V]);
      });
    });
    if constexpr (kExtra) {
      const __m256 vx = _mm256_broadcast_ss(reinterpret_cast<const float*>(b) + 8 * NV);
      const __m256 vw =
          PP_CONST(last)
              ? _mm256_maskload_ps(w, pp_x86::Avx2::first_lanes(MR))
              : _mm256_loadu_ps(w);
      extra = _mm256_fmadd_ps(vx, vw, extra);
    }
    w += MR;
    b += b_stride;
  };
  if constexpr (kExtra) {
    for (size_t k = kc - 1; k != 0; k--) step(std::false_type{});
    step(std::true_type{});
  } else {
    size_t k = kc;
    do {
      step(std::false_type{});
    } while (--k != 0);
  }
  unroll<ROWS>([&](auto m) PP_INLINE_LAMBDA {
    constexpr int M = PP_CONST(m);
    if (M == 0 || static_cast<size_t>(M) < mr) {
      float* o = reinterpret_cast<float*>(c + M * c_stride);
      unroll<NV>([&](auto v) PP_INLINE_LAMBDA {
        constexpr int V = PP_CONST(v);
        __m256 r = _mm256_max_ps(vmin, acc[M][V]);  // maxps/minps return the second operand
        r = _mm256_min_ps(vmax, r);                 // on NaN: NaN propagates
        if (kMasked && V == NV - 1) {
          _mm256_maskstore_ps(o + 8 * V, mask, r);
        } else {
          _mm256_storeu_ps(o + 8 * V, r);
        }
      });
    }
  });
  if constexpr (kExtra) {
    alignas(32) float out[8];
    _mm256_store_ps(out, _mm256_min_ps(vmax, _mm256_max_ps(vmin, extra)));
    for (size_t m = 0; m < mr; m++) reinterpret_cast<float*>(c + m * c_stride)[8 * NV] = out[m];
  }
}

// Ragged tail of `rest` (1 .. 8*NV-1) columns: ceil(rest / 8) vectors, the last masked if
// rest % 8 != 0. Each vector count is its own instantiation (fully unrolled).
template <int MR, int ROWS, int NV>
PP_INLINE void tail(size_t rest, size_t mr, size_t kc, const char* b, size_t b_stride,
                              const float* packed_w, char* c, size_t c_stride, __m256 vmin,
                              __m256 vmax) {
  if constexpr (NV > 1) {
    if (rest <= 8 * (NV - 1)) {
      tail<MR, ROWS, NV - 1>(rest, mr, kc, b, b_stride, packed_w, c, c_stride, vmin, vmax);
      return;
    }
  }
  const size_t last = rest - 8 * (NV - 1);  // 1 .. 8 lanes in the last vector
  if (last == 8) {
    block<MR, ROWS, NV, false>(mr, kc, b, b_stride, packed_w, c, c_stride, vmin, vmax,
                               _mm256_setzero_si256());
  } else {
    const __m256i mask = pp_x86::Avx2::first_lanes(last);
    block<MR, ROWS, NV, true>(mr, kc, b, b_stride, packed_w, c, c_stride, vmin, vmax, mask);
  }
}

// `q` (1 .. NV) full vectors, unmasked (kExtra: plus one column, see block()).
template <int MR, int ROWS, int NV, bool kExtra = false>
PP_INLINE void full(size_t q, size_t mr, size_t kc, const char* b, size_t b_stride,
                              const float* packed_w, char* c, size_t c_stride, __m256 vmin,
                              __m256 vmax) {
  if constexpr (NV > 1) {
    if (q < NV) {
      full<MR, ROWS, NV - 1, kExtra>(q, mr, kc, b, b_stride, packed_w, c, c_stride, vmin, vmax);
      return;
    }
  }
  block<MR, ROWS, NV, false, kExtra>(mr, kc, b, b_stride, packed_w, c, c_stride, vmin, vmax,
                                     _mm256_setzero_si256());
}

// T (1 .. 4) columns computed transposed, for 4 < MR <= 8: one ymm per column whose lanes are
// the MR rows, so a 1-column tail costs 1 FMA per k instead of a masked block of MR FMAs. Per
// k: one 8-float load of the packed weights (lanes >= MR hold the next k's weights: harmless,
// never stored; the last k is loaded masked so nothing past the block is read), T broadcasts
// of b[k][j], T FMAs. One chain per column, in k order, like every other path of the kernel:
// a column's value does not depend on where the driver cuts the pixels (ukernels.h). Stores
// are scalar (T*mr floats once per call).
template <int MR, int T>
PP_INLINE void columns(size_t mr, size_t kc, const char* b, size_t b_stride,
                                 const float* packed_w, char* c, size_t c_stride, __m256 vmin,
                                 __m256 vmax) {
  static_assert(MR > 4 && MR <= 8 && T >= 1 && T <= 4, "transposed tail: 4 < MR <= 8");
  __m256 acc[T];
  const __m256 bias = _mm256_loadu_ps(packed_w);  // MR biases, then k = 0 weights (unused lanes)
  unroll<T>([&](auto j) PP_INLINE_LAMBDA { acc[PP_CONST(j)] = bias; });
  const float* w = packed_w + MR;
  auto step = [&](__m256 vw) PP_INLINE_LAMBDA {
    unroll<T>([&](auto j) PP_INLINE_LAMBDA {
      constexpr int J = PP_CONST(j);
      acc[J] = _mm256_fmadd_ps(vw, _mm256_broadcast_ss(reinterpret_cast<const float*>(b) + J), acc[J]);
    });
    w += MR;
    b += b_stride;
  };
  for (size_t k = kc - 1; k != 0; k--) step(_mm256_loadu_ps(w));  // the last k is peeled
  step(_mm256_maskload_ps(w, pp_x86::Avx2::first_lanes(MR)));
  alignas(32) float out[T][8];
  unroll<T>([&](auto j) PP_INLINE_LAMBDA {
    constexpr int J = PP_CONST(j);
    _mm256_store_ps(out[J], _mm256_min_ps(vmax, _mm256_max_ps(vmin, acc[J])));
  });
  for (size_t m = 0; m < mr; m++) {
    float* o = reinterpret_cast<float*>(c + m * c_stride);
    unroll<T>([&](auto j) PP_INLINE_LAMBDA { o[PP_CONST(j)] = out[PP_CONST(j)][m]; });
  }
}

// Computes the first ROWS rows of blocks whose packed weights are MR rows wide.
template <int MR, int ROWS, int NV>
PP_INLINE void gemm_rows(size_t mr, size_t nc, size_t kc, const float* b,
                                   size_t b_stride, const float* packed_w, float* c,
                                   size_t c_stride, __m256 vmin, __m256 vmax) {
  constexpr size_t NR = 8 * NV;
  const char* bp = reinterpret_cast<const char*>(b);
  char* cp = reinterpret_cast<char*>(c);
  constexpr bool kCanExtra = MR > 4 && MR <= 8 && ROWS * NV + NV + 2 <= 16;
  for (; nc >= NR; nc -= NR) {
    if constexpr (kCanExtra) {
      if (nc == NR + 1) {  // last block + 1 column: fused (see block())
        block<MR, ROWS, NV, false, true>(mr, kc, bp, b_stride, packed_w, cp, c_stride, vmin,
                                         vmax, _mm256_setzero_si256());
        return;
      }
    }
    block<MR, ROWS, NV, false>(mr, kc, bp, b_stride, packed_w, cp, c_stride, vmin, vmax,
                               _mm256_setzero_si256());
    bp += NR * sizeof(float);
    cp += NR * sizeof(float);
  }
  if (nc != 0) {
    const size_t q = nc / 8, t = nc % 8;
    if constexpr (MR > 4 && MR <= 8) {
      // q full vectors + t <= 4 columns transposed beats ceil(nc / 8) vectors, the last masked.
      if (t != 0 && t <= 4) {
        if constexpr (kCanExtra) {
          if (t == 1 && q != 0) {
            full<MR, ROWS, NV, true>(q, mr, kc, bp, b_stride, packed_w, cp, c_stride, vmin, vmax);
            return;
          }
        }
        if (q != 0) {
          full<MR, ROWS, NV>(q, mr, kc, bp, b_stride, packed_w, cp, c_stride, vmin, vmax);
          bp += q * 8 * sizeof(float);
          cp += q * 8 * sizeof(float);
        }
        switch (t) {
          case 1: columns<MR, 1>(mr, kc, bp, b_stride, packed_w, cp, c_stride, vmin, vmax); break;
          case 2: columns<MR, 2>(mr, kc, bp, b_stride, packed_w, cp, c_stride, vmin, vmax); break;
          case 3: columns<MR, 3>(mr, kc, bp, b_stride, packed_w, cp, c_stride, vmin, vmax); break;
          default: columns<MR, 4>(mr, kc, bp, b_stride, packed_w, cp, c_stride, vmin, vmax); break;
        }
        return;
      }
    }
    tail<MR, ROWS, NV>(nc, mr, kc, bp, b_stride, packed_w, cp, c_stride, vmin, vmax);
  }
}

template <int MR, int NV>
PP_INLINE void gemm(size_t mr, size_t nc, size_t kc, const float* b, size_t b_stride,
                              const float* packed_w, float* c, size_t c_stride,
                              const pp_f32_minmax_params* params) {
  static_assert(MR * NV + NV + 1 <= 16, "tile exceeds the 16 ymm registers");
  PP_ASSERT(mr >= 1 && mr <= static_cast<size_t>(MR) && nc >= 1 && kc >= 1);
  const __m256 vmin = _mm256_broadcast_ss(&params->min);
  const __m256 vmax = _mm256_broadcast_ss(&params->max);
  if constexpr (MR > 4) {
    // The layer's last block of channels: 4 rows (8 accumulators still fill the 2 FMA pipes
    // of latency 4) cost 4/MR of the full tile; fewer rows would be FMA-latency bound.
    if (mr <= 4) {
      gemm_rows<MR, 4, NV>(mr, nc, kc, b, b_stride, packed_w, c, c_stride, vmin, vmax);
      return;
    }
  }
  gemm_rows<MR, MR, NV>(mr, nc, kc, b, b_stride, packed_w, c, c_stride, vmin, vmax);
}

}  // namespace pp_f32_gemm_avx2

// Defines the extern "C" microkernel `name` with an MR x (8*NV) tile.
#define PP_F32_GEMM_AVX2_UKERNEL(name, MR, NV)                                                \
  extern "C" void name(size_t mr, size_t nc, size_t kc, const float* b, size_t b_stride,     \
                       const float* packed_w, float* c, size_t c_stride,                    \
                       const pp_f32_minmax_params* params) {                                \
    pp_f32_gemm_avx2::gemm<MR, NV>(mr, nc, kc, b, b_stride, packed_w, c, c_stride, params); \
  }
