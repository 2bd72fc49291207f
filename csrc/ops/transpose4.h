// A 4x4 block transposed through the compiler's generic vectors (SSE or NEON shuffles): the
// core of packing rows k-major and of transposing copies.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace pyprune {

// y[j * y_stride + i] = x[i * x_stride + j] for i, j < 4 (strides in floats).
inline void transpose4x4(const float* x, ptrdiff_t x_stride, float* y, ptrdiff_t y_stride) {
  using F4 = float __attribute__((vector_size(16)));
  using I4 = int32_t __attribute__((vector_size(16)));
  F4 v[4];
  for (ptrdiff_t i = 0; i < 4; i++) std::memcpy(&v[i], x + i * x_stride, sizeof(F4));
  const F4 lo01 = __builtin_shuffle(v[0], v[1], I4{0, 4, 1, 5}), hi01 = __builtin_shuffle(v[0], v[1], I4{2, 6, 3, 7});
  const F4 lo23 = __builtin_shuffle(v[2], v[3], I4{0, 4, 1, 5}), hi23 = __builtin_shuffle(v[2], v[3], I4{2, 6, 3, 7});
  const F4 t[4] = {__builtin_shuffle(lo01, lo23, I4{0, 1, 4, 5}), __builtin_shuffle(lo01, lo23, I4{2, 3, 6, 7}),
                   __builtin_shuffle(hi01, hi23, I4{0, 1, 4, 5}), __builtin_shuffle(hi01, hi23, I4{2, 3, 6, 7})};
  for (ptrdiff_t j = 0; j < 4; j++) std::memcpy(y + j * y_stride, &t[j], sizeof(F4));
}

}  // namespace pyprune
