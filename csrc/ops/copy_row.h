// Inline copies of short rows of floats, for drivers that copy input rows into their buffers
// (im2col panels, Winograd strips, phase planes).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>

namespace pyprune {

// Copies n floats with inline vector moves: a row is a few dozen floats, where a libc memcpy
// call costs more than the copy itself.
inline void copy_row(const float* src, size_t n, float* dst) {
  // Whole vectors, the last one overlapping the one before (the buffers do not overlap).
  if (n >= 8) {
    for (size_t i = 0; i + 8 < n; i += 8) std::memcpy(dst + i, src + i, 8 * sizeof(float));
    std::memcpy(dst + n - 8, src + n - 8, 8 * sizeof(float));
  } else if (n >= 4) {
    std::memcpy(dst, src, 4 * sizeof(float));
    std::memcpy(dst + n - 4, src + n - 4, 4 * sizeof(float));
  } else {
    for (size_t i = 0; i < n; i++) dst[i] = src[i];
  }
}

// dst[i] = src[x0 + i * stride] where that column is inside [0, width), else 0, for i < count:
// zeros, then a strided (or contiguous) copy, then zeros.
inline void gather_row(const float* src, ptrdiff_t width, ptrdiff_t x0, size_t stride, size_t count, float* dst) {
  const ptrdiff_t s = static_cast<ptrdiff_t>(stride), n = static_cast<ptrdiff_t>(count);
  // ceil(a / s) for a > 0 as (a - 1) / s + 1, no overflow even for strides near 2^63; without a
  // division for the common strides: on 7x7 planes a division costs about a row's copy.
  auto ceil_div = [s](ptrdiff_t a) { return s == 1 ? a : s == 2 ? (a - 1) / 2 + 1 : (a - 1) / s + 1; };
  const ptrdiff_t lo = x0 >= 0 ? 0 : std::min(n, ceil_div(-x0));
  const ptrdiff_t hi = x0 >= width ? lo : std::max(lo, std::min(n, ceil_div(width - x0)));
  std::fill(dst, dst + lo, 0.0f);
  if (hi == lo) {
    // nothing of the input row
  } else if (stride == 1) {
    copy_row(src + x0 + lo, static_cast<size_t>(hi - lo), dst + lo);
  } else if (stride == 2) {
    // The stride of most downsampling layers, spelled so the compiler vectorises it (LD2 on
    // AArch64): the general loop below costs several instructions per element.
    const float* p = src + x0;
    for (ptrdiff_t i = lo; i < hi; i++) dst[i] = p[2 * i];
  } else {
    const float* p = src + x0 + lo * s;
    for (ptrdiff_t i = lo; i < hi; i++, p += s) dst[i] = *p;
  }
  std::fill(dst + hi, dst + n, 0.0f);
}

}  // namespace pyprune
