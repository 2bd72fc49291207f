// The f32 horizontal pooling microkernels' one output, in scalar: the order every variant
// follows (taps combined first to last), so sums agree bit for bit across ISAs.
#pragma once

#include "pyprune/ukernels.h"

template <pp_hpool_op Op>
inline float pp_hpool_combine(float acc, float v) {
  if constexpr (Op == pp_hpool_max) return (v > acc || v != v) ? v : acc;  // NaN propagates
  return acc + v;
}

template <pp_hpool_op Op, size_t K, size_t S>
inline float pp_hpool_output(const float* x, size_t o) {
  float acc = x[o * S];
  for (size_t j = 1; j < K; j++) acc = pp_hpool_combine<Op>(acc, x[o * S + j]);
  return acc;
}

// Defines kernel `name` as `body<Op, K, S>` (one line per kernel in the ISA files).
#define PP_HPOOL_DEFINE(name, body, op, kernel, stride)                    \
  extern "C" void name(size_t n, const float* x, float* y) {               \
    body<pp_hpool_##op, kernel, stride>(n, x, y);                           \
  }
