// AVX2+FMA f32 SpMM microkernel template (sparse convolution, NCHW), shared by every
// f32-spmm-*-avx2.cc file (compile those with -mavx2 -mfma only). Contract: ukernels.h.
//
// Pixels outermost: tiles of MR pixels (MR / 8 ymm per output row), then the ragged rest in
// tiles of MR/2, ..., 8, 4, 2, 1 pixels (xmm, 64-bit and 32-bit loads: nothing is read or
// written outside [0, mc)). For each tile every weight block is streamed: per non-zero
// column, one load per vector of its input row (the row is found by its byte offset) and one
// broadcast + FMA per block row. Blocks with at most 4 accumulators use two accumulator sets,
// alternating per non-zero, so two FMA chains hide the FMA latency; they are added at the end.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "pyprune/ukernels.h"
#include "pyprune/unroll.h"
#include "spmm-tiles.h"

namespace pp_f32_spmm_avx2 {

using pyprune::unroll;

// W pixels of one output row as NV vectors of `Lanes` lanes.
struct Ymm {
  using V = __m256;
  static constexpr size_t kLanes = 8;
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  static V splat(const float* p) { return _mm256_broadcast_ss(p); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static V zero() { return _mm256_setzero_ps(); }
  // max(lo, v) then min(hi, v): the second operand is returned for NaN, so NaN stays.
  static V clamp(V v, V lo, V hi) { return _mm256_min_ps(hi, _mm256_max_ps(lo, v)); }
};

template <size_t W>
struct Xmm {  // W = 4, 2 or 1 lanes of an xmm register
  using V = __m128;
  static constexpr size_t kLanes = W;
  static V load(const float* p) {
    if constexpr (W == 4) return _mm_loadu_ps(p);
    if constexpr (W == 2) return _mm_castpd_ps(_mm_load_sd(reinterpret_cast<const double*>(p)));
    if constexpr (W == 1) return _mm_load_ss(p);
  }
  static void store(float* p, V v) {
    if constexpr (W == 4) _mm_storeu_ps(p, v);
    if constexpr (W == 2) _mm_store_sd(reinterpret_cast<double*>(p), _mm_castps_pd(v));
    if constexpr (W == 1) _mm_store_ss(p, v);
  }
  static V splat(const float* p) { return _mm_broadcast_ss(p); }
  static V fma(V a, V b, V c) { return _mm_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm_add_ps(a, b); }
  static V zero() { return _mm_setzero_ps(); }
  static V clamp(V v, V lo, V hi) { return _mm_min_ps(hi, _mm_max_ps(lo, v)); }
};

template <size_t W>
using Vec = std::conditional_t<(W >= 8), Ymm, Xmm<(W >= 8 ? 4 : W)>>;

// One block of ROWS output rows x W pixels; advances w and offsets past the block (the
// contract of spmm-tiles.h).
struct Kernel {
  template <size_t ROWS, size_t W>
  static PP_INLINE void block(const char* input, const float*& w, const int32_t*& offsets, uint32_t nnz,
                              char* output, size_t output_stride, const pp_f32_minmax_params* params) {
    using L = Vec<W>;
    using V = typename L::V;
    constexpr size_t NV = W >= 8 ? W / 8 : 1;
    constexpr size_t kSets = ROWS * NV <= 4 ? 2 : 1;
    V acc[kSets][ROWS][NV];
    unroll<ROWS>([&](auto r) PP_INLINE_LAMBDA {
      const V bias = L::splat(w + PP_CONST(r));
      unroll<NV>([&](auto v) PP_INLINE_LAMBDA {
        acc[0][PP_CONST(r)][PP_CONST(v)] = bias;
        if constexpr (kSets == 2) acc[1][PP_CONST(r)][PP_CONST(v)] = L::zero();
      });
    });
    w += ROWS;
    auto step = [&](auto set) PP_INLINE_LAMBDA {
      constexpr size_t S = PP_CONST(set);
      const float* x = reinterpret_cast<const float*>(input + offsets[S]);
      V xv[NV];
      unroll<NV>([&](auto v) PP_INLINE_LAMBDA { xv[PP_CONST(v)] = L::load(x + PP_CONST(v) * L::kLanes); });
      unroll<ROWS>([&](auto r) PP_INLINE_LAMBDA {
        const V wv = L::splat(w + S * ROWS + PP_CONST(r));
        unroll<NV>([&](auto v) PP_INLINE_LAMBDA {
          V& a = acc[S][PP_CONST(r)][PP_CONST(v)];
          a = L::fma(xv[PP_CONST(v)], wv, a);
        });
      });
    };
    for (; nnz >= kSets; nnz -= kSets) {
      unroll<kSets>(step);
      offsets += kSets;
      w += kSets * ROWS;
    }
    if (kSets == 2 && nnz != 0) {
      step(pyprune::Int<0>{});
      offsets += 1;
      w += ROWS;
    }
    const V vmin = L::splat(&params->min), vmax = L::splat(&params->max);
    unroll<ROWS>([&](auto r) PP_INLINE_LAMBDA {
      float* out = reinterpret_cast<float*>(output + PP_CONST(r) * output_stride);
      unroll<NV>([&](auto v) PP_INLINE_LAMBDA {
        V a = acc[0][PP_CONST(r)][PP_CONST(v)];
        if constexpr (kSets == 2) a = L::add(a, acc[1][PP_CONST(r)][PP_CONST(v)]);
        L::store(out + PP_CONST(v) * L::kLanes, L::clamp(a, vmin, vmax));
      });
    });
  }

};

}  // namespace pp_f32_spmm_avx2

#define PP_F32_SPMM_AVX2_UKERNEL(name, mr, nr)                                                 \
  extern "C" void name(size_t mc, size_t nc, const float* input, const float* weights,        \
                       const int32_t* offsets, const uint32_t* counts, float* output,         \
                       size_t output_stride, const pp_f32_minmax_params* params) {            \
    pp_f32_spmm::spmm<pp_f32_spmm_avx2::Kernel, mr, nr>(mc, nc, input, weights, offsets,     \
                                                        counts, output, output_stride, params); \
  }
