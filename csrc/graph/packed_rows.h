// Rows of a row-major matrix as the GEMM microkernels' packed operand (a matmul's A, attention's
// queries and scores): mr zero biases, then for each k the block's mr values of that column
// (rows past `rows` zero), in a per-thread buffer.
#pragma once

#include <algorithm>
#include <cstddef>

#include "../ops/aligned_buffer.h"
#include "../ops/pack_k_major.h"

namespace pyprune::graph {

inline float* pack_rows(const float* a, size_t rows, size_t k, size_t mr) {
  thread_local AlignedBuffer buffer;
  buffer.reserve(mr * (1 + k));
  float* w = buffer.data();
  std::fill(w, w + mr, 0.0f);
  pack_k_major(a, rows, k, mr, w + mr);
  return w;
}

}  // namespace pyprune::graph
