// The operations of the f32 elementwise binary microkernels, written once for scalars and SIMD
// vectors alike (GCC/Clang vector types take the arithmetic operators): contract in ukernels.h.
#pragma once

#include "pyprune/ukernels.h"

template <pp_vbinary_op Op, class T>
inline T pp_vbinary_apply(T a, T b) {
  if constexpr (Op == pp_vbinary_add) return a + b;
  if constexpr (Op == pp_vbinary_sub) return a - b;
  if constexpr (Op == pp_vbinary_rsub) return b - a;
  if constexpr (Op == pp_vbinary_mul) return a * b;
  if constexpr (Op == pp_vbinary_div) return a / b;
  if constexpr (Op == pp_vbinary_rdiv) return b / a;
  // a where it is NaN or the larger (smaller), else b (NaN when b is): NaN in, NaN out.
  if constexpr (Op == pp_vbinary_max) return ((a != a) | (a > b)) ? a : b;
  if constexpr (Op == pp_vbinary_min) return ((a != a) | (a < b)) ? a : b;
}

// Defines kernel `name` as `body<Op, ScalarB>` (one line per kernel in the ISA files).
#define PP_VBINARY_DEFINE(name, body, op, scalar_b)                                        \
  extern "C" void name(size_t n, const float* a, const float* b, float* y,                 \
                       const pp_f32_minmax_params* params) {                               \
    body<pp_vbinary_##op, scalar_b>(n, a, b, y, params);                                   \
  }
