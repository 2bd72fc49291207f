// The SparseMatrix format (see pyprune/sparse.h): built from dense weights or from its arrays,
// every array checked so that the kernels can trust it.
#include <algorithm>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

#include "pyprune/capabilities.h"
#include "pyprune/sparse.h"

namespace pyprune {

SparseMatrix::SparseMatrix(size_t rows, size_t columns, size_t block)
    : rows_(rows), columns_(columns), block_(block) {
  require(sparse_block_rejects(block));
  if (rows == 0 || columns == 0) throw std::invalid_argument("the weight matrix must not be empty");
  if (columns > static_cast<size_t>(std::numeric_limits<int32_t>::max()))
    throw std::invalid_argument("too many weight columns: " + std::to_string(columns));
  // Checked before the block table is built: its dense form must be a tensor pyprune takes.
  if (checked_mul(rows, columns, "the weight") > kMaxWeightElements)
    throw std::invalid_argument("the weight has " + std::to_string(rows) + " x " + std::to_string(columns) +
                                " elements, more than the " + std::to_string(kMaxWeightElements) + " a layer may have");
  for (size_t r = 0; r < rows; r += rows - r >= block ? block : 1) block_row_.push_back(r);
  block_row_.push_back(rows);
}

SparseMatrix SparseMatrix::from_dense(size_t rows, size_t columns, size_t block,
                                      const float* dense, const float* bias) {
  SparseMatrix m(rows, columns, block);
  int64_t previous = 0;
  for (size_t b = 0; b + 1 < m.block_row_.size(); b++) {
    const size_t first = m.block_row_[b], n = m.block_row_[b + 1] - first;
    for (size_t r = 0; r < n; r++) m.values_.push_back(bias ? bias[first + r] : 0.0f);
    uint32_t count = 0;
    for (size_t c = 0; c < columns; c++) {
      bool stored = false;
      for (size_t r = 0; r < n; r++) stored = stored || dense[(first + r) * columns + c] != 0.0f;
      if (!stored) continue;
      for (size_t r = 0; r < n; r++) m.values_.push_back(dense[(first + r) * columns + c]);
      m.deltas_.push_back(static_cast<int32_t>(static_cast<int64_t>(c) - previous));
      previous = static_cast<int64_t>(c);
      count++;
    }
    m.counts_.push_back(count);
  }
  m.index();
  return m;
}

SparseMatrix SparseMatrix::from_arrays(size_t rows, size_t columns, size_t block,
                                       std::vector<float> values, std::vector<int32_t> deltas,
                                       std::vector<uint32_t> counts) {
  // Checked before the block table is built, so a huge `rows` cannot make it allocate.
  const size_t blocks = block > 1 ? rows / block + rows % block : rows;
  if (sparse_block_rejects(block).empty() && counts.size() != blocks)
    throw std::invalid_argument("counts must have one entry per block (" + std::to_string(blocks) +
                                " for " + std::to_string(rows) + " rows in blocks of " +
                                std::to_string(block) + "), got " + std::to_string(counts.size()));
  SparseMatrix m(rows, columns, block);
  m.values_ = std::move(values);
  m.deltas_ = std::move(deltas);
  m.counts_ = std::move(counts);
  m.index();
  return m;
}

void SparseMatrix::index() {
  const size_t blocks = block_row_.size() - 1;
  if (counts_.size() != blocks)
    throw std::invalid_argument("counts must have one entry per block (" + std::to_string(blocks) +
                                " for " + std::to_string(rows_) + " rows in blocks of " +
                                std::to_string(block_) + "), got " + std::to_string(counts_.size()));
  value_start_.assign(1, 0);
  column_start_.assign(1, 0);
  for (size_t b = 0; b < blocks; b++) {
    if (counts_[b] > columns_)
      throw std::invalid_argument("counts[" + std::to_string(b) + "] = " + std::to_string(counts_[b]) +
                                  " exceeds the " + std::to_string(columns_) + " columns");
    column_start_.push_back(column_start_.back() + counts_[b]);
    value_start_.push_back(value_start_.back() + block_rows(b) * (1 + size_t{counts_[b]}));
  }
  if (deltas_.size() != column_start_.back())
    throw std::invalid_argument("deltas must have one entry per stored column (the sum of counts, " +
                                std::to_string(column_start_.back()) + "), got " +
                                std::to_string(deltas_.size()));
  if (values_.size() != value_start_.back())
    throw std::invalid_argument("values must hold " + std::to_string(value_start_.back()) +
                                " floats (per block: its biases, then one value per row and stored "
                                "column), got " + std::to_string(values_.size()));
  column_indices_.resize(deltas_.size());
  int64_t column = 0;
  for (size_t b = 0; b < blocks; b++) {
    for (size_t j = column_start_[b]; j < column_start_[b + 1]; j++) {
      const int64_t next = column + deltas_[j];
      if (next < 0 || next >= static_cast<int64_t>(columns_))
        throw std::invalid_argument("deltas[" + std::to_string(j) + "] leads to column " +
                                    std::to_string(next) + ", outside [0, " +
                                    std::to_string(columns_) + ")");
      if (j > column_start_[b] && next <= column)
        throw std::invalid_argument("deltas[" + std::to_string(j) +
                                    "] must be positive: columns increase within a block");
      column = next;
      column_indices_[j] = static_cast<uint32_t>(column);
    }
  }
}

void SparseMatrix::to_dense(float* dense, float* bias) const {
  std::memset(dense, 0, rows_ * columns_ * sizeof(float));
  for (size_t b = 0; b < blocks(); b++) {
    const size_t first = block_row(b), n = block_rows(b);
    const float* v = values_.data() + value_start(b);
    if (bias != nullptr) std::copy(v, v + n, bias + first);
    v += n;
    for (size_t j = column_start(b); j < column_start(b + 1); j++, v += n)
      for (size_t r = 0; r < n; r++) dense[(first + r) * columns_ + column_indices_[j]] = v[r];
  }
}

size_t stored_weights(const float* dense, size_t rows, size_t columns, size_t block) {
  const size_t blocked = block > 1 ? rows / block * block : 0;
  size_t stored = 0;
  for (size_t r = 0; r < blocked; r += block)
    for (size_t c = 0; c < columns; c++)
      for (size_t i = 0; i < block; i++)
        if (dense[(r + i) * columns + c] != 0.0f) {
          stored += block;
          break;
        }
  for (size_t i = blocked * columns; i < rows * columns; i++) stored += dense[i] != 0.0f;
  return stored;
}

std::pair<size_t, double> cheapest_block(const float* dense, size_t rows, size_t columns,
                                         const std::vector<std::pair<size_t, double>>& costs) {
  std::pair<size_t, double> best{0, 0.0};
  const double total = static_cast<double>(rows * columns);
  for (const auto& [block, cost] : costs) {
    const double density = static_cast<double>(stored_weights(dense, rows, columns, block)) * cost / total;
    if (best.first == 0 || density < best.second || (density == best.second && block < best.first))
      best = {block, density};
  }
  return best;
}

}  // namespace pyprune
