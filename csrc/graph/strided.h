// Several tensors walked together over one iteration space, each with its own element strides
// (0 where it is broadcast): the loop nest of broadcasting, reductions, permutes and expands.
// Dims of size 1 are dropped and neighbouring dims merged wherever every tensor allows, so the
// innermost dim is as long as possible; callers run a row function over it.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <optional>
#include <vector>

#include "pyprune/graph/operator.h"

namespace pyprune::graph {

// The strides of a C-contiguous tensor of shape `shape` seen in the iteration space `space`
// (shape aligned to the right of space, numpy style): 0 along dims it is broadcast over.
inline std::array<ptrdiff_t, kMaxRank> broadcast_strides(const Dims& shape, const Dims& space) {
  std::array<ptrdiff_t, kMaxRank> strides{};
  ptrdiff_t stride = 1;
  const size_t offset = space.size() - shape.size();
  for (size_t i = shape.size(); i-- > 0;) {
    strides[offset + i] = shape[i] == 1 ? 0 : stride;
    stride *= static_cast<ptrdiff_t>(shape[i]);
  }
  return strides;
}

// Batch `index` (C order over `batch`, the broadcast of the operands' batch dims) as each
// operand's matrix index, operand k's batch dims having matrix strides `strides[k]`
// (broadcast_strides of its batch dims in `batch`): a batched product's operands.
template <size_t K>
std::array<ptrdiff_t, K> batch_matrices(size_t index, const Dims& batch,
                                        const std::array<std::array<ptrdiff_t, kMaxRank>, K>& strides) {
  std::array<ptrdiff_t, K> matrix{};
  for (size_t d = batch.size(); d-- > 0; index /= batch[d]) {
    const ptrdiff_t i = static_cast<ptrdiff_t>(index % batch[d]);
    for (size_t k = 0; k < K; k++) matrix[k] += i * strides[k][d];
  }
  return matrix;
}

// Elements of dims [from, to) of `d`: around an axis, (outer, n, inner) is
// (span(d, 0, axis), d[axis], span(d, axis + 1, d.size())).
inline size_t span(const Dims& d, size_t from, size_t to) {
  size_t n = 1;
  for (size_t i = from; i < to; i++) n *= d[i];
  return n;
}

// numpy's broadcast of `shapes`, aligned to the right: along each dim the size other than 1
// among them, or 1; nothing when two differ along a dim and neither is 1.
inline std::optional<Dims> broadcast(const std::vector<Dims>& shapes) {
  size_t rank = 0;
  for (const Dims& shape : shapes) rank = std::max(rank, shape.size());
  Dims y(rank, 1);
  for (const Dims& shape : shapes) {
    const size_t offset = rank - shape.size();
    for (size_t i = 0; i < shape.size(); i++) {
      size_t& out = y[offset + i];
      if (shape[i] != out && shape[i] != 1 && out != 1) return std::nullopt;
      if (out == 1) out = shape[i];
    }
  }
  return y;
}

template <size_t K>
class StridedLoop {
 public:
  using Offsets = std::array<ptrdiff_t, K>;

  // `strides[k][d]`: tensor k's element stride along dim d of `space`.
  StridedLoop(const Dims& space, const std::array<std::array<ptrdiff_t, kMaxRank>, K>& strides) {
    for (size_t d = 0; d < space.size(); d++) {
      if (space[d] == 0) empty_ = true;
      if (space[d] == 1) continue;
      const bool merge = rank_ > 0 && [&] {
        for (size_t k = 0; k < K; k++)
          if (stride_[k][rank_ - 1] != strides[k][d] * static_cast<ptrdiff_t>(space[d])) return false;
        return true;
      }();
      if (merge) {
        size_[rank_ - 1] *= space[d];
        for (size_t k = 0; k < K; k++) stride_[k][rank_ - 1] = strides[k][d];
      } else {
        size_[rank_] = space[d];
        for (size_t k = 0; k < K; k++) stride_[k][rank_] = strides[k][d];
        rank_++;
      }
    }
    if (rank_ == 0) {  // a single element
      size_[0] = 1;
      for (size_t k = 0; k < K; k++) stride_[k][0] = 1;
      rank_ = 1;
    }
  }

  bool empty() const { return empty_; }
  // The innermost (merged) dim: its length and each tensor's stride along it.
  size_t inner() const { return size_[rank_ - 1]; }
  ptrdiff_t inner_stride(size_t k) const { return stride_[k][rank_ - 1]; }
  // Rows: every index of the dims outside the innermost one.
  size_t rows() const {
    size_t n = 1;
    for (size_t d = 0; d + 1 < rank_; d++) n *= size_[d];
    return n;
  }
  // The dims after merging, outermost first (the innermost is inner()).
  size_t rank() const { return rank_; }
  size_t size(size_t d) const { return size_[d]; }
  ptrdiff_t stride(size_t k, size_t d) const { return stride_[k][d]; }

  // row(offsets) for rows [first, first + count) in order; offsets[k] is tensor k's element
  // offset of the row's first element.
  template <class Row>
  void for_rows(size_t first, size_t count, Row&& row) const {
    std::array<size_t, kMaxRank> index{};
    Offsets offsets{};
    // The outer dims: rank_ - 1, which is below kMaxRank; bounded here for the compiler, which
    // otherwise warns of a memset of 2^64 bytes for a rank of 0 that never comes.
    const size_t outer = std::min(rank_ - 1, kMaxRank - 1);
    for (size_t d = outer, r = first; d-- > 0;) {
      index[d] = r % size_[d];
      r /= size_[d];
      for (size_t k = 0; k < K; k++) offsets[k] += static_cast<ptrdiff_t>(index[d]) * stride_[k][d];
    }
    for (size_t i = 0; i < count; i++) {
      row(offsets);
      for (size_t d = outer; d-- > 0;) {  // odometer over the outer dims
        for (size_t k = 0; k < K; k++) offsets[k] += stride_[k][d];
        if (++index[d] < size_[d]) break;
        for (size_t k = 0; k < K; k++) offsets[k] -= stride_[k][d] * static_cast<ptrdiff_t>(size_[d]);
        index[d] = 0;
      }
    }
  }

 private:
  size_t rank_ = 0;
  bool empty_ = false;
  std::array<size_t, kMaxRank> size_{};
  std::array<std::array<ptrdiff_t, kMaxRank>, K> stride_{};
};

}  // namespace pyprune::graph
