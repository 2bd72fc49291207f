// Sparse (pruned) convolution: the weight format the SpMM kernels stream, and the driver.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "pyprune/activation.h"
#include "pyprune/dispatch.h"
#include "pyprune/shape.h"

namespace pyprune {

// The weights of a convolution, a [rows = Cout, columns = Cin * k * k] matrix, without its
// zeros. Output channels are grouped in blocks: while at least `block` rows remain, a block
// of `block` rows, then single rows. A block stores a column when any of its rows is
// non-zero there (block sparsity makes that all of them):
//  - values: per block, one bias per row, then per stored column one value per row;
//  - deltas: per stored column, its column index minus the previous stored column's, running
//    across blocks (the first is from column 0), so consecutive columns cost small numbers;
//  - counts: stored columns per block.
// Within a block, columns increase. Any rows, columns, an all-zero matrix and all-zero rows
// are valid.
class SparseMatrix {
 public:
  // From a dense row-major matrix and bias (nullptr = zeros); block one of sparse_blocks().
  static SparseMatrix from_dense(size_t rows, size_t columns, size_t block, const float* dense,
                                 const float* bias);
  // From the three arrays, checked: throws std::invalid_argument naming what is inconsistent.
  static SparseMatrix from_arrays(size_t rows, size_t columns, size_t block,
                                  std::vector<float> values, std::vector<int32_t> deltas,
                                  std::vector<uint32_t> counts);
  // Writes the dense matrix [rows, columns] and the bias [rows] (bias may be nullptr).
  void to_dense(float* dense, float* bias) const;

  size_t rows() const { return rows_; }
  size_t columns() const { return columns_; }
  size_t block() const { return block_; }
  size_t blocks() const { return counts_.size(); }
  const std::vector<float>& values() const { return values_; }
  const std::vector<int32_t>& deltas() const { return deltas_; }
  const std::vector<uint32_t>& counts() const { return counts_; }
  // Per stored column, its column index.
  const std::vector<uint32_t>& column_indices() const { return column_indices_; }
  // Block b: its first row, its rows, where it starts in values() and in the stored columns;
  // b == blocks() gives the ends.
  size_t block_row(size_t b) const { return block_row_[b]; }
  size_t block_rows(size_t b) const { return block_row_[b + 1] - block_row_[b]; }
  size_t value_start(size_t b) const { return value_start_[b]; }
  size_t column_start(size_t b) const { return column_start_[b]; }
  // Multiply-accumulates per output pixel: stored values excluding the biases.
  size_t stored_values() const { return values_.size() - rows_; }

 private:
  SparseMatrix(size_t rows, size_t columns, size_t block);
  void index();  // block starts and column indices from counts and deltas, checked

  size_t rows_, columns_, block_;
  std::vector<float> values_;
  std::vector<int32_t> deltas_;
  std::vector<uint32_t> counts_;
  std::vector<uint32_t> column_indices_;
  std::vector<size_t> block_row_, value_start_, column_start_;  // blocks() + 1 entries
};

// Weights the SpMM kernels multiply for a dense row-major [rows, columns] matrix in blocks of
// `block` rows (as SparseMatrix stores them, without the biases): per block, its rows times the
// columns where any of them is non-zero; single rows their non-zeros.
size_t stored_weights(const float* dense, size_t rows, size_t columns, size_t block);

// The block size of `costs` (block, cost per stored weight relative to single rows) that makes
// the matrix cheapest, and its effective density: stored_weights() times the block's cost over
// rows * columns. The smaller block on ties.
std::pair<size_t, double> cheapest_block(const float* dense, size_t rows, size_t columns,
                                         const std::vector<std::pair<size_t, double>>& costs);

// A convolution (groups 1, one stride for both axes, a dilation d at stride 1 only, zero padding
// per side) with sparse weights, on the SpMM kernels: one SpMM per image. The zero-padded input
// is split into phase planes (plane (a, b) holds padded rows a, a + s, ... and columns b, b + s,
// ... for stride s), so tap (kh, kw) of output pixel (y, x) is at row y + kh / s, column x + kw /
// s of phase (kh % s, kw % s), or at stride 1 at row y + kh d, column x + kw d: a fixed offset
// from the pixel, computed once per input size. Output row y
// is computed at y * phase_width, so rows are phase_width apart and the columns past the
// output width are discarded (the epilogue runs on each row as it is compacted). 1x1 stride-1
// convolutions without padding use the input and output as they are.
class SparseConv2d {
 public:
  // weights.columns() == in_channels * kernel_h * kernel_w. `ukernel` nullptr picks the
  // production kernel for the block size. std::invalid_argument naming what the kernels do not
  // take.
  SparseConv2d(SparseMatrix weights, size_t in_channels, const Window2d& window,
               const pp_f32_spmm_ukernel* ukernel = nullptr);

  Shape4 output_shape(const Shape4& x) const;
  // y = epilogue(conv(x) + bias), the residual (if any) laid out like y. Safe to call from
  // several threads at once.
  void run(const Shape4& x_shape, const float* x, float* y, const Epilogue& epilogue) const;

  const SparseMatrix& weights() const { return weights_; }
  size_t in_channels() const { return in_channels_; }
  const Window2d& window() const { return window_; }
  const pp_f32_spmm_ukernel& ukernel() const { return *ukernel_; }

  struct Plan;  // the SpMM geometry and input offsets of one input size

 private:
  std::shared_ptr<const Plan> plan(const Shape4& x, const Shape4& y) const;

  SparseMatrix weights_;
  size_t in_channels_;
  Window2d window_;
  const pp_f32_spmm_ukernel* ukernel_;
  mutable std::mutex mutex_;  // guards plan_
  mutable std::shared_ptr<const Plan> plan_;
};

}  // namespace pyprune
