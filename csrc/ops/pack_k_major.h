// Rows of a row-major matrix packed k-major for the GEMM microkernels' weight operand (the
// activations of a linear layer over many rows, a matmul's A): each k's values of the block's
// rows side by side.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "transpose4.h"

namespace pyprune {

// to[k * mr + m] = x[m * depth + k] for the block's rows m < rows (<= mr) and k < depth, zeros
// for m in [rows, mr): four rows at a time as 4x4 transposes of the compiler's generic vectors,
// then two interleaved, the rest one by one (one value at a time, a deep layer's rows cost as
// much to pack as the narrow ones cost to multiply: 3136 tokens 384 -> 96, ConvNeXt's second
// MLP layer).
inline void pack_k_major(const float* x, size_t rows, size_t depth, size_t mr, float* to) {
  using F4 = float __attribute__((vector_size(16)));
  using I4 = int32_t __attribute__((vector_size(16)));
  size_t m = 0;
  for (; m + 4 <= rows; m += 4) {
    const float* r = x + m * depth;
    size_t k = 0;
    for (; k + 4 <= depth; k += 4) {
      transpose4x4(r + k, static_cast<ptrdiff_t>(depth), to + k * mr + m, static_cast<ptrdiff_t>(mr));
    }
    for (; k < depth; k++)
      for (size_t i = 0; i < 4; i++) to[k * mr + m + i] = r[i * depth + k];
  }
  for (; m + 2 <= rows; m += 2) {  // two rows: pairs interleaved (mr = 6: rows 4 and 5)
    const float* r = x + m * depth;
    size_t k = 0;
    for (; k + 4 <= depth; k += 4) {
      F4 a, b;
      std::memcpy(&a, r + k, sizeof(F4));
      std::memcpy(&b, r + depth + k, sizeof(F4));
      const F4 t[2] = {__builtin_shuffle(a, b, I4{0, 4, 1, 5}), __builtin_shuffle(a, b, I4{2, 6, 3, 7})};
      for (size_t j = 0; j < 4; j++) std::memcpy(to + (k + j) * mr + m, reinterpret_cast<const float*>(t) + 2 * j, 2 * sizeof(float));
    }
    for (; k < depth; k++)
      for (size_t i = 0; i < 2; i++) to[k * mr + m + i] = r[i * depth + k];
  }
  for (; m < mr; m++)
    for (size_t k = 0; k < depth; k++) to[k * mr + m] = m < rows ? x[m * depth + k] : 0.0f;
}

}  // namespace pyprune
