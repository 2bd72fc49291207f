// The pixel and channel loops shared by the SIMD SpMM templates (spmm-avx2.h, spmm-neon.h):
// tiles of MR pixels, then the ragged rest in tiles of MR/2, ..., 2, 1 pixels (one per set
// bit), and within a tile every weight block: full blocks of NR rows, then single rows.
// `Kernel::block<ROWS, W>(input, w, offsets, nnz, output, output_stride, params, extra...)`
// computes one block of ROWS rows x W pixels and advances w and offsets past it; `extra` is
// what tile() was given after params (spmm-avx512.h: the lane mask of a ragged tile).
#pragma once

#include <cstddef>
#include <cstdint>

#include "pyprune/ukernels.h"
#include "pyprune/unroll.h"

namespace pp_f32_spmm {

template <class Kernel, size_t NR, size_t W, class... Extra>
PP_INLINE void tile(size_t nc, const char* input, const float* w, const int32_t* offsets,
                    const uint32_t* counts, char* output, size_t output_stride,
                    const pp_f32_minmax_params* params, Extra... extra) {
  if constexpr (NR > 1) {
    for (; nc >= NR; nc -= NR) {
      Kernel::template block<NR, W>(input, w, offsets, *counts++, output, output_stride, params, extra...);
      output += NR * output_stride;
    }
  }
  for (; nc != 0; nc--) {
    Kernel::template block<1, W>(input, w, offsets, *counts++, output, output_stride, params, extra...);
    output += output_stride;
  }
}

template <class Kernel, size_t MR, size_t NR>
PP_INLINE void spmm(size_t mc, size_t nc, const float* input, const float* weights,
                    const int32_t* offsets, const uint32_t* counts, float* output,
                    size_t output_stride, const pp_f32_minmax_params* params) {
  PP_ASSERT(mc >= 1 && nc >= 1);
  const char* in = reinterpret_cast<const char*>(input);
  char* out = reinterpret_cast<char*>(output);
  for (; mc >= MR; mc -= MR) {
    tile<Kernel, NR, MR>(nc, in, weights, offsets, counts, out, output_stride, params);
    in += MR * sizeof(float);
    out += MR * sizeof(float);
  }
  pyprune::unroll<6>([&](auto i) PP_INLINE_LAMBDA {
    constexpr size_t W = (MR >> 1) >> PP_CONST(i);
    if constexpr (W >= 1) {
      if (mc & W) {
        tile<Kernel, NR, W>(nc, in, weights, offsets, counts, out, output_stride, params);
        in += W * sizeof(float);
        out += W * sizeof(float);
      }
    }
  });
}

}  // namespace pp_f32_spmm
