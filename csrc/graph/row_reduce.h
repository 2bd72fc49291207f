// Reductions of one contiguous row, written so the compiler vectorises them: eight independent
// accumulators (summed pairwise at the end). Sums add blocks of kSumBlock floats in double, so a
// long row keeps float accuracy. max/min propagate NaN like torch.
#pragma once

#include <algorithm>
#include <cstddef>

namespace pyprune::graph {

constexpr size_t kSumBlock = 2048;

struct MaxOf {
  static float combine(float acc, float v) { return (v > acc || v != v) ? v : acc; }
};
struct MinOf {
  static float combine(float acc, float v) { return (v < acc || v != v) ? v : acc; }
};
struct SumOf {
  template <class Acc>
  static Acc combine(Acc acc, float v) { return acc + v; }
};

// Op over x[0..n) starting from acc; n may be 0.
template <class Op>
float reduce_row(const float* x, size_t n, float acc) {
  float lanes[8] = {acc, acc, acc, acc, acc, acc, acc, acc};
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (size_t l = 0; l < 8; l++) lanes[l] = Op::combine(lanes[l], x[i + l]);
  for (size_t l = 0; i < n; i++, l++) lanes[l] = Op::combine(lanes[l], x[i]);
  return Op::combine(Op::combine(Op::combine(lanes[0], lanes[1]), Op::combine(lanes[2], lanes[3])),
                     Op::combine(Op::combine(lanes[4], lanes[5]), Op::combine(lanes[6], lanes[7])));
}

inline double sum_row(const float* x, size_t n) {
  double total = 0.0;
  for (size_t b = 0; b < n; b += kSumBlock) total += reduce_row<SumOf>(x + b, std::min(kSumBlock, n - b), 0.0f);
  return total;
}

}  // namespace pyprune::graph
