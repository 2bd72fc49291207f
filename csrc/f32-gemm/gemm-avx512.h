// AVX-512 f32 GEMM microkernel template (1x1 convolution in NCHW), shared by every
// f32-gemm-*-avx512.cc file (compile those with -mavx512f -mavx512bw -mavx512dq -mavx512vl
// -mfma only). Contract: ukernels.h.
//
// Tile: MR output channels x 16*NV pixels, MR*NV zmm accumulators (MR*NV + NV + 1 <= 32).
// Per k: NV unaligned loads of the b row (the activations, rows b_stride bytes apart), MR
// broadcasts of packed_w and MR*NV FMAs. The accumulators start at the bias.
// Columns: full 16*NV blocks, then one block of the rest: its whole vectors, then its last 1..15
// columns loaded and stored under a lane mask, in a zmm or, for 1..8 columns, a ymm (half the
// work of a zmm), or, for at most ROWS / 2 (and 4) columns, one ymm (a zmm past 8 rows) per column
// holding its ROWS rows (one FMA per column and k instead of one per row: 7x7 layers' 49 = 48 +
// 1 columns). A rest of 1..15 columns goes with the last full block instead, where the
// registers allow (196-pixel 14x14 layers: 6 x 32 + 4).
// Nothing is read or written past nc.
// Rows: all MR rows are computed (packed_w is zero-filled past the layer's last channel), or
// only the first half when mr <= MR / 2 (the layer's last block); only rows < mr are stored.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "pyprune/ukernels.h"
#include "pyprune/unroll.h"
#include "pyprune/x86_vector.h"

namespace pp_f32_gemm_avx512 {

using pyprune::unroll;

// The first n (1..16) lanes.
PP_INLINE __mmask16 first_lanes(size_t n) { return static_cast<__mmask16>((1u << n) - 1); }

// What follows a block's full vectors: nothing, a masked zmm (9..15 columns), a masked ymm
// (1..8 columns: half the work of a zmm), or TC columns of a vector of rows each.
enum class Tail { kNone, kZmm, kYmm, kColumns };

// A kColumns tail's vector of ROWS rows: a ymm for up to 8 (half the work of a zmm), else a zmm.
template <int ROWS, bool kWide = (ROWS > 8)>
struct Rows {
  using V = __m256;
  static constexpr __mmask8 kRows = static_cast<__mmask8>((1u << ROWS) - 1);
  static PP_INLINE V load(const float* w) { return _mm256_maskz_loadu_ps(kRows, w); }
  static PP_INLINE V fmadd(V w, float b, V acc) { return _mm256_fmadd_ps(w, _mm256_set1_ps(b), acc); }
  static PP_INLINE void store_clamped(float* lanes, V v, __m512 vmin, __m512 vmax) {
    _mm256_store_ps(lanes, _mm256_min_ps(_mm512_castps512_ps256(vmax), _mm256_max_ps(_mm512_castps512_ps256(vmin), v)));
  }
};
template <int ROWS>
struct Rows<ROWS, true> {
  using V = __m512;
  static constexpr __mmask16 kRows = static_cast<__mmask16>((1u << ROWS) - 1);
  static PP_INLINE V load(const float* w) { return _mm512_maskz_loadu_ps(kRows, w); }
  static PP_INLINE V fmadd(V w, float b, V acc) { return _mm512_fmadd_ps(w, _mm512_set1_ps(b), acc); }
  static PP_INLINE void store_clamped(float* lanes, V v, __m512 vmin, __m512 vmax) {
    _mm512_store_ps(lanes, _mm512_min_ps(vmax, _mm512_max_ps(vmin, v)));
  }
};

// Most columns of a kColumns tail: beyond ROWS / 2 of them a masked ymm costs fewer FMAs.
constexpr int kMaxColumns = 4;
// The columns a ROWS-row block takes as a kColumns tail: up to ROWS / 2, at most kMaxColumns.
template <int ROWS>
constexpr int kTailColumns = ROWS / 2 < kMaxColumns ? ROWS / 2 : kMaxColumns;

// One ROWS x (16*NF + tail) block of c at column 0 of b / c (pointers already offset): NF full
// vectors, then the tail: vector T loaded and stored under `mask`, or TC columns.
template <int MR, int ROWS, int NF, Tail T, int TC = 0>
PP_INLINE void block(size_t mr, size_t kc, const char* b, size_t b_stride, const float* packed_w,
                     char* c, size_t c_stride, __m512 vmin, __m512 vmax, __mmask16 mask) {
  static_assert(NF >= 1 || T != Tail::kNone, "an empty block");
  static_assert((T == Tail::kColumns) == (TC > 0) && TC <= kMaxColumns && ROWS <= 16, "a column tail of TC columns");
  __m512 acc[ROWS][NF > 0 ? NF : 1];
  __m512 tz[ROWS];  // T == kZmm
  __m256 ty[ROWS];  // T == kYmm
  using Column = Rows<ROWS>;
  typename Column::V tc[TC > 0 ? TC : 1];  // T == kColumns: lane m is row m
  if constexpr (T == Tail::kColumns) {
    const auto bias = Column::load(packed_w);
    unroll<TC>([&](auto j) PP_INLINE_LAMBDA { tc[PP_CONST(j)] = bias; });
  }
  unroll<ROWS>([&](auto m) PP_INLINE_LAMBDA {
    constexpr int M = PP_CONST(m);
    const __m512 bias = _mm512_set1_ps(packed_w[M]);
    unroll<NF>([&](auto v) PP_INLINE_LAMBDA { acc[M][PP_CONST(v)] = bias; });
    if constexpr (T == Tail::kZmm) tz[M] = bias;
    if constexpr (T == Tail::kYmm) ty[M] = _mm512_castps512_ps256(bias);
  });
  const float* w = packed_w + MR;
  size_t k = kc;
  do {
    pp_x86::prefetch_ahead(w);
    const float* row = reinterpret_cast<const float*>(b);
    __m512 vb[NF > 0 ? NF : 1];
    unroll<NF>([&](auto v) PP_INLINE_LAMBDA { vb[PP_CONST(v)] = _mm512_loadu_ps(row + 16 * PP_CONST(v)); });
    __m512 vz;
    __m256 vy;
    if constexpr (T == Tail::kZmm) vz = _mm512_maskz_loadu_ps(mask, row + 16 * NF);
    if constexpr (T == Tail::kYmm) vy = _mm256_maskz_loadu_ps(static_cast<__mmask8>(mask), row + 16 * NF);
    if constexpr (T == Tail::kColumns) {
      const auto vw = Column::load(w);
      unroll<TC>([&](auto j) PP_INLINE_LAMBDA {
        constexpr int J = PP_CONST(j);
        tc[J] = Column::fmadd(vw, row[16 * NF + J], tc[J]);
      });
    }
    unroll<ROWS>([&](auto m) PP_INLINE_LAMBDA {
      constexpr int M = PP_CONST(m);
      const __m512 vw = _mm512_set1_ps(w[M]);
      unroll<NF>([&](auto v) PP_INLINE_LAMBDA {
        constexpr int V = PP_CONST(v);
        acc[M][V] = _mm512_fmadd_ps(vw, vb[V], acc[M][V]);
      });
      if constexpr (T == Tail::kZmm) tz[M] = _mm512_fmadd_ps(vw, vz, tz[M]);
      if constexpr (T == Tail::kYmm) ty[M] = _mm256_fmadd_ps(_mm512_castps512_ps256(vw), vy, ty[M]);
    });
    w += MR;
    b += b_stride;
  } while (--k != 0);
  // max(lo, v) then min(hi, v): the second operand is returned for NaN, so NaN propagates.
  unroll<ROWS>([&](auto m) PP_INLINE_LAMBDA {
    constexpr int M = PP_CONST(m);
    if (M == 0 || static_cast<size_t>(M) < mr) {
      float* o = reinterpret_cast<float*>(c + M * c_stride);
      unroll<NF>([&](auto v) PP_INLINE_LAMBDA {
        constexpr int V = PP_CONST(v);
        _mm512_storeu_ps(o + 16 * V, _mm512_min_ps(vmax, _mm512_max_ps(vmin, acc[M][V])));
      });
      if constexpr (T == Tail::kZmm)
        _mm512_mask_storeu_ps(o + 16 * NF, mask, _mm512_min_ps(vmax, _mm512_max_ps(vmin, tz[M])));
      if constexpr (T == Tail::kYmm)
        _mm256_mask_storeu_ps(o + 16 * NF, static_cast<__mmask8>(mask),
                              _mm256_min_ps(_mm512_castps512_ps256(vmax),
                                            _mm256_max_ps(_mm512_castps512_ps256(vmin), ty[M])));
    }
  });
  if constexpr (T == Tail::kColumns) {
    const size_t stored = mr < static_cast<size_t>(ROWS) ? mr : ROWS;
    unroll<TC>([&](auto j) PP_INLINE_LAMBDA {
      constexpr int J = PP_CONST(j);
      alignas(64) float lanes[16];
      Column::store_clamped(lanes, tc[J], vmin, vmax);
      for (size_t m = 0; m < stored; m++) reinterpret_cast<float*>(c + m * c_stride)[16 * NF + J] = lanes[m];
    });
  }
}

// A block of NF full vectors and t (1 .. kTailColumns) columns.
template <int MR, int ROWS, int NF>
PP_INLINE void block_columns(size_t t, size_t mr, size_t kc, const char* b, size_t b_stride, const float* packed_w,
                             char* c, size_t c_stride, __m512 vmin, __m512 vmax) {
  unroll<kTailColumns<ROWS>>([&](auto j) PP_INLINE_LAMBDA {
    if (t == PP_CONST(j) + 1)
      block<MR, ROWS, NF, Tail::kColumns, PP_CONST(j) + 1>(mr, kc, b, b_stride, packed_w, c, c_stride, vmin, vmax, 0);
  });
}

// The ragged rest (1 .. 16*NV - 1 columns) = 16 q + t: q full vectors (each count its own
// instantiation, fully unrolled), then the t columns in a masked zmm or ymm.
template <int MR, int ROWS, int NV>
PP_INLINE void tail(size_t rest, size_t mr, size_t kc, const char* b, size_t b_stride,
                    const float* packed_w, char* c, size_t c_stride, __m512 vmin, __m512 vmax) {
  if constexpr (NV > 1) {
    if (rest < 16 * (NV - 1)) {
      tail<MR, ROWS, NV - 1>(rest, mr, kc, b, b_stride, packed_w, c, c_stride, vmin, vmax);
      return;
    }
  }
  constexpr int Q = NV - 1;  // 16 Q <= rest < 16 NV
  const size_t t = rest - 16 * Q;
  if constexpr (Q > 0) {
    if (t == 0) {
      block<MR, ROWS, Q, Tail::kNone>(mr, kc, b, b_stride, packed_w, c, c_stride, vmin, vmax, 0);
      return;
    }
  }
  if (t <= kTailColumns<ROWS>) {
    block_columns<MR, ROWS, Q>(t, mr, kc, b, b_stride, packed_w, c, c_stride, vmin, vmax);
  } else if (t > 8) {
    block<MR, ROWS, Q, Tail::kZmm>(mr, kc, b, b_stride, packed_w, c, c_stride, vmin, vmax, first_lanes(t));
  } else {
    block<MR, ROWS, Q, Tail::kYmm>(mr, kc, b, b_stride, packed_w, c, c_stride, vmin, vmax, first_lanes(t));
  }
}

// Computes the first ROWS rows of blocks whose packed weights are MR rows wide.
template <int MR, int ROWS, int NV>
PP_INLINE void gemm_rows(size_t mr, size_t nc, size_t kc, const float* b, size_t b_stride,
                         const float* packed_w, float* c, size_t c_stride, __m512 vmin, __m512 vmax) {
  constexpr size_t NR = 16 * NV;
  const char* bp = reinterpret_cast<const char*>(b);
  char* cp = reinterpret_cast<char*>(c);
  // A rest of 1..15 columns after full blocks rides along the last full block when the
  // registers allow: a pass of its own over the weights would cost it several times its share.
  constexpr bool kAbsorb = ROWS * (NV + 1) + NV + 2 <= 32;
  constexpr bool kAbsorbColumns = ROWS * NV + NV + kMaxColumns + 5 <= 32;
  for (; nc >= NR; nc -= NR) {
    const size_t rest = nc - NR;
    if (kAbsorbColumns && rest != 0 && rest <= kTailColumns<ROWS>) {
      block_columns<MR, ROWS, NV>(rest, mr, kc, bp, b_stride, packed_w, cp, c_stride, vmin, vmax);
      return;
    }
    if (kAbsorb && rest != 0 && rest < 16) {
      if (rest > 8) {
        block<MR, ROWS, NV, Tail::kZmm>(mr, kc, bp, b_stride, packed_w, cp, c_stride, vmin, vmax, first_lanes(rest));
      } else {
        block<MR, ROWS, NV, Tail::kYmm>(mr, kc, bp, b_stride, packed_w, cp, c_stride, vmin, vmax, first_lanes(rest));
      }
      return;
    }
    block<MR, ROWS, NV, Tail::kNone>(mr, kc, bp, b_stride, packed_w, cp, c_stride, vmin, vmax, 0);
    bp += NR * sizeof(float);
    cp += NR * sizeof(float);
  }
  if (nc != 0) tail<MR, ROWS, NV>(nc, mr, kc, bp, b_stride, packed_w, cp, c_stride, vmin, vmax);
}

template <int MR, int NV>
PP_INLINE void gemm(size_t mr, size_t nc, size_t kc, const float* b, size_t b_stride,
                    const float* packed_w, float* c, size_t c_stride, const pp_f32_minmax_params* params) {
  static_assert(MR * NV + NV + 1 <= 32, "tile exceeds the 32 zmm registers");
  PP_ASSERT(mr >= 1 && mr <= static_cast<size_t>(MR) && nc >= 1 && kc >= 1);
  const __m512 vmin = _mm512_set1_ps(params->min);
  const __m512 vmax = _mm512_set1_ps(params->max);
  constexpr int kHalf = (MR + 1) / 2;
  if constexpr (kHalf * NV >= 4) {  // still 4 FMA chains: the FMA latency stays hidden
    if (mr <= static_cast<size_t>(kHalf)) {
      gemm_rows<MR, kHalf, NV>(mr, nc, kc, b, b_stride, packed_w, c, c_stride, vmin, vmax);
      return;
    }
  }
  gemm_rows<MR, MR, NV>(mr, nc, kc, b, b_stride, packed_w, c, c_stride, vmin, vmax);
}

}  // namespace pp_f32_gemm_avx512

// Defines the extern "C" microkernel `name` with an MR x (16*NV) tile.
#define PP_F32_GEMM_AVX512_UKERNEL(name, MR, NV)                                                \
  extern "C" void name(size_t mr, size_t nc, size_t kc, const float* b, size_t b_stride,       \
                       const float* packed_w, float* c, size_t c_stride,                      \
                       const pp_f32_minmax_params* params) {                                  \
    pp_f32_gemm_avx512::gemm<MR, NV>(mr, nc, kc, b, b_stride, packed_w, c, c_stride, params); \
  }
