// Sparse (pruned) convolution: the weight format the SpMM kernels stream, and the driver.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "pyprune/dispatch.h"

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
  // From a dense row-major matrix and bias (nullptr = zeros); block is 1, 2, 4 or 8.
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

struct SparseConv2dShape {
  size_t batch, in_channels, out_channels, input_height, input_width;
  size_t kernel_size, stride, padding;
  size_t output_height() const { return (input_height + 2 * padding - kernel_size) / stride + 1; }
  size_t output_width() const { return (input_width + 2 * padding - kernel_size) / stride + 1; }
};

// How a convolution becomes one SpMM per image. The zero-padded input is split into
// stride x stride phase planes (plane (a, b) holds padded rows a, a + s, ... and columns
// b, b + s, ...), so tap (kh, kw) of output pixel (y, x) is at row y + kh / s, column x + kw / s
// of phase (kh % s, kw % s): a fixed offset from the pixel. Output row y is computed at
// y * phase_width, so rows are phase_width apart and the columns past output_width are
// discarded. 1x1 stride-1 convolutions without padding use the input and output as they are.
struct SparseConvGeometry {
  explicit SparseConvGeometry(const SparseConv2dShape& s);
  bool copies_input() const { return !direct; }
  bool compacts_output() const { return phase_width != output_width; }

  bool direct;
  size_t phases, phase_height, phase_width, output_width;
  size_t pixels;        // SpMM pixels per image: (output_height - 1) * phase_width + output_width
  size_t input_floats;  // SpMM input per image: in_channels * phases * phase_height * phase_width
};

// Per stored column of `weights`, the byte offset of its input row in the SpMM input of
// `shape`. Throws std::length_error when an image is too large for 32-bit offsets.
std::vector<int32_t> sparse_conv2d_offsets(const SparseConv2dShape& shape,
                                           const SparseMatrix& weights);

// NCHW convolution with sparse weights: input [N, Cin, H, W], output [N, Cout, OH, OW];
// `offsets` from sparse_conv2d_offsets for this shape; ukernel.nr == weights.block().
void sparse_conv2d_nchw(const SparseConv2dShape& shape, const SparseMatrix& weights,
                        const int32_t* offsets, const float* input, float* output,
                        const pp_f32_minmax_params& params, const pp_f32_spmm_ukernel& ukernel);

}  // namespace pyprune
