// Row strides that keep the rows a kernel reads together out of each other's cache sets.
#pragma once

#include <cstddef>

namespace pyprune {

// A kernel that reads the same columns of many rows, such as a pointwise GEMM or SpMM reading
// its input planes in place, finds those rows in the same few cache sets when they are a
// multiple of 4 KiB apart (one way of a 64-set L1 with 64-byte lines; a 64x64 or 96x96 plane):
// 32 rows compete for 8 ways, and every load goes to L2 or further. AVX2 on Zen 3: pointwise
// 32 -> 64 channels at 64x64 to 160x160 ran at 19-24 GMAC/s, at 56x56 and 112x112 at 38; a
// 90 %-sparse one at 3-4.5 instead of 14.6.
constexpr size_t kCacheWayBytes = 4096;

inline bool rows_alias(size_t stride_bytes) { return stride_bytes % kCacheWayBytes == 0; }

// The stride, in floats, for a copy of rows of `floats`: one cache line more where rows that
// far apart would alias.
inline size_t unaliased_stride(size_t floats) {
  return rows_alias(floats * sizeof(float)) ? floats + 64 / sizeof(float) : floats;
}

}  // namespace pyprune
