// Shared macros for pyprune's kernels.
#pragma once

#include <cassert>
#include <cstddef>

#define PP_RESTRICT __restrict__
#define PP_LIKELY(x) __builtin_expect(!!(x), 1)
#define PP_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define PP_ASSERT(x) assert(x)

// Alignment of packed buffers owned by pyprune (one cache line).
#define PP_ALIGNMENT 64

inline size_t pp_round_up(size_t n, size_t q) { return (n + q - 1) / q * q; }
inline size_t pp_divide_round_up(size_t n, size_t q) { return (n + q - 1) / q; }
