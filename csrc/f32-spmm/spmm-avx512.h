// AVX-512 f32 SpMM microkernel template (sparse convolution, NCHW), shared by every
// f32-spmm-*-avx512.cc file (compile those with -mavx512f -mavx512bw -mavx512dq -mavx512vl
// -mfma only). Contract: ukernels.h.
//
// Pixels outermost: tiles of MR pixels (MR / 16 zmm per output row), then the ragged rest
// (1 .. MR-1 pixels) in one tile of ceil(rest / 16) vectors whose last vector is loaded and
// stored under a lane mask: one more pass over the weights, where halving tiles (spmm-avx2.h)
// take one per set bit of the rest; nothing is read or written outside [0, mc). For each tile
// every weight block is streamed (spmm-tiles.h): per non-zero column, one load per vector of
// its input row (found by its byte offset) and one broadcast + FMA per block row and vector.
// Blocks with at most 4 accumulators use two accumulator sets, alternating per non-zero, so
// twice as many FMA chains hide the FMA latency; they are added at the end.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "pyprune/ukernels.h"
#include "pyprune/unroll.h"
#include "spmm-tiles.h"

namespace pp_f32_spmm_avx512 {

using pyprune::unroll;

struct Kernel {
  // One block of ROWS output rows x W pixels (W / 16 vectors); advances w and offsets past
  // the block (the contract of spmm-tiles.h). kMasked: the last vector under `mask`.
  template <size_t ROWS, size_t W, bool kMasked>
  static PP_INLINE void masked_block(const char* input, const float*& w, const int32_t*& offsets, uint32_t nnz,
                                     char* output, size_t output_stride, const pp_f32_minmax_params* params,
                                     __mmask16 mask) {
    static_assert(W % 16 == 0, "whole zmm vectors");
    constexpr size_t NV = W / 16;
    constexpr size_t kSets = ROWS * NV <= 4 ? 2 : 1;
    auto load = [&](const float* p, auto v) PP_INLINE_LAMBDA {
      return kMasked && PP_CONST(v) == NV - 1 ? _mm512_maskz_loadu_ps(mask, p) : _mm512_loadu_ps(p);
    };
    __m512 acc[kSets][ROWS][NV];
    unroll<ROWS>([&](auto r) PP_INLINE_LAMBDA {
      const __m512 bias = _mm512_set1_ps(w[PP_CONST(r)]);
      unroll<NV>([&](auto v) PP_INLINE_LAMBDA {
        acc[0][PP_CONST(r)][PP_CONST(v)] = bias;
        if constexpr (kSets == 2) acc[1][PP_CONST(r)][PP_CONST(v)] = _mm512_setzero_ps();
      });
    });
    w += ROWS;
    auto step = [&](auto set) PP_INLINE_LAMBDA {
      constexpr size_t S = PP_CONST(set);
      const float* x = reinterpret_cast<const float*>(input + offsets[S]);
      __m512 xv[NV];
      unroll<NV>([&](auto v) PP_INLINE_LAMBDA { xv[PP_CONST(v)] = load(x + 16 * PP_CONST(v), v); });
      unroll<ROWS>([&](auto r) PP_INLINE_LAMBDA {
        const __m512 wv = _mm512_set1_ps(w[S * ROWS + PP_CONST(r)]);
        unroll<NV>([&](auto v) PP_INLINE_LAMBDA {
          __m512& a = acc[S][PP_CONST(r)][PP_CONST(v)];
          a = _mm512_fmadd_ps(xv[PP_CONST(v)], wv, a);
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
    const __m512 vmin = _mm512_set1_ps(params->min), vmax = _mm512_set1_ps(params->max);
    unroll<ROWS>([&](auto r) PP_INLINE_LAMBDA {
      float* out = reinterpret_cast<float*>(output + PP_CONST(r) * output_stride);
      unroll<NV>([&](auto v) PP_INLINE_LAMBDA {
        __m512 a = acc[0][PP_CONST(r)][PP_CONST(v)];
        if constexpr (kSets == 2) a = _mm512_add_ps(a, acc[1][PP_CONST(r)][PP_CONST(v)]);
        // max(lo, a) then min(hi, a): the second operand is returned for NaN, so NaN stays.
        a = _mm512_min_ps(vmax, _mm512_max_ps(vmin, a));
        if (kMasked && PP_CONST(v) == NV - 1) {
          _mm512_mask_storeu_ps(out + 16 * PP_CONST(v), mask, a);
        } else {
          _mm512_storeu_ps(out + 16 * PP_CONST(v), a);
        }
      });
    });
  }

  // A full tile.
  template <size_t ROWS, size_t W>
  static PP_INLINE void block(const char* input, const float*& w, const int32_t*& offsets, uint32_t nnz, char* output,
                              size_t output_stride, const pp_f32_minmax_params* params) {
    masked_block<ROWS, W, false>(input, w, offsets, nnz, output, output_stride, params, 0);
  }

  // The ragged tile: the lanes of its last vector in `mask`.
  template <size_t ROWS, size_t W>
  static PP_INLINE void block(const char* input, const float*& w, const int32_t*& offsets, uint32_t nnz, char* output,
                              size_t output_stride, const pp_f32_minmax_params* params, __mmask16 mask) {
    masked_block<ROWS, W, true>(input, w, offsets, nnz, output, output_stride, params, mask);
  }
};

// The ragged rest of 1 .. W pixels: ceil(rest / 16) vectors, each count its own instantiation.
template <size_t NR, size_t W>
PP_INLINE void rest_tile(size_t rest, size_t nc, const char* input, const float* weights, const int32_t* offsets,
                         const uint32_t* counts, char* output, size_t output_stride,
                         const pp_f32_minmax_params* params) {
  if constexpr (W > 16) {
    if (rest <= W - 16) {
      rest_tile<NR, W - 16>(rest, nc, input, weights, offsets, counts, output, output_stride, params);
      return;
    }
  }
  const __mmask16 mask = static_cast<__mmask16>((1u << (rest - (W - 16))) - 1);
  pp_f32_spmm::tile<Kernel, NR, W>(nc, input, weights, offsets, counts, output, output_stride, params, mask);
}

template <size_t MR, size_t NR>
PP_INLINE void spmm(size_t mc, size_t nc, const float* input, const float* weights, const int32_t* offsets,
                    const uint32_t* counts, float* output, size_t output_stride, const pp_f32_minmax_params* params) {
  PP_ASSERT(mc >= 1 && nc >= 1);
  const char* in = reinterpret_cast<const char*>(input);
  char* out = reinterpret_cast<char*>(output);
  for (; mc >= MR; mc -= MR) {
    pp_f32_spmm::tile<Kernel, NR, MR>(nc, in, weights, offsets, counts, out, output_stride, params);
    in += MR * sizeof(float);
    out += MR * sizeof(float);
  }
  if (mc != 0) rest_tile<NR, MR>(mc, nc, in, weights, offsets, counts, out, output_stride, params);
}

}  // namespace pp_f32_spmm_avx512

#define PP_F32_SPMM_AVX512_UKERNEL(name, mr, nr)                                                           \
  extern "C" void name(size_t mc, size_t nc, const float* input, const float* weights, const int32_t* offsets, \
                       const uint32_t* counts, float* output, size_t output_stride,                          \
                       const pp_f32_minmax_params* params) {                                                 \
    pp_f32_spmm_avx512::spmm<mr, nr>(mc, nc, input, weights, offsets, counts, output, output_stride, params);  \
  }
