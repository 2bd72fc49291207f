// An inline copy of a short row of floats, for drivers that copy input rows into their
// buffers (im2col panels, Winograd strips).
#pragma once

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

}  // namespace pyprune
