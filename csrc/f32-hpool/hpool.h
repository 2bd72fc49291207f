// The f32 row pooling microkernels' one output, in scalar: the order every variant follows
// (each tap's column over the rows first, then the taps first to last), so sums agree bit for
// bit across ISAs.
#pragma once

#include "pyprune/ukernels.h"

template <pp_hpool_op Op>
inline float pp_hpool_combine(float acc, float v) {
  if constexpr (Op == pp_hpool_max) {
    const float m = v > acc ? v : acc;  // MAXSS: no branch on the data (a mispredicted one per value)
    return v != v ? v : m;              // NaN propagates
  }
  return acc + v;
}

// Row r of x (x_stride bytes apart).
inline const float* pp_hpool_row(const float* x, size_t x_stride, size_t r) {
  return reinterpret_cast<const float*>(reinterpret_cast<const char*>(x) + r * x_stride);
}

// The window's column at x + i over the rows.
template <pp_hpool_op Op>
inline float pp_hpool_column(size_t rows, const float* x, size_t x_stride, size_t i) {
  float acc = x[i];
  for (size_t r = 1; r < rows; r++) acc = pp_hpool_combine<Op>(acc, pp_hpool_row(x, x_stride, r)[i]);
  return acc;
}

template <pp_hpool_op Op, size_t K, size_t S>
inline float pp_hpool_output(size_t rows, const float* x, size_t x_stride, size_t o) {
  float acc = pp_hpool_column<Op>(rows, x, x_stride, o * S);
  for (size_t j = 1; j < K; j++) acc = pp_hpool_combine<Op>(acc, pp_hpool_column<Op>(rows, x, x_stride, o * S + j));
  return acc;
}

// The first outputs, whose windows start in the padding (o * S < pad), from the columns inside:
// y[o] for o < the count returned (at most n). The window of the output after them starts
// inside the row, at x + count * S - pad.
template <pp_hpool_op Op, size_t K, size_t S>
inline size_t pp_hpool_left_edge(size_t n, size_t rows, size_t pad, const float* x, size_t x_stride, float* y) {
  size_t o = 0;
  for (; o < n && o * S < pad; o++) {
    float acc = pp_hpool_column<Op>(rows, x, x_stride, 0);
    for (size_t j = 1; j < o * S + K - pad; j++) acc = pp_hpool_combine<Op>(acc, pp_hpool_column<Op>(rows, x, x_stride, j));
    y[o] = acc;
  }
  return o;
}

// Defines kernel `name` as `body<Op, K, S>` (one line per kernel in the ISA files).
#define PP_HPOOL_DEFINE(name, body, op, kernel, stride)                                                    \
  extern "C" void name(size_t n, size_t rows, size_t pad, const float* x, size_t x_stride, float* y) {  \
    body<pp_hpool_##op, kernel, stride>(n, rows, pad, x, x_stride, y);                                      \
  }
