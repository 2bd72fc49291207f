// Data movement: concat, split, slice, permute, expand. Results are exact copies. concat and
// split copy whole blocks per outer index (memcpy); slice, permute and expand are one strided
// copy: the output walked in order, the input through strides (stepped, permuted, or 0 where
// it is expanded), with neighbouring dims merged so rows are as long as possible (and a longer
// dim innermost where the rows would still be a few elements).
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <numeric>
#include <optional>

#include "../ops/copy_row.h"
#include "../ops/transpose4.h"
#include "node_operator.h"
#include "parallel_rows.h"
#include "pyprune/graph/factories.h"
#include "pyprune/shape.h"
#include "strided.h"

namespace pyprune::graph {
namespace {

// Rows shorter than this are too short to walk one by one.
constexpr size_t kShortRun = 8;
// Output rows a transposing copy moves together (see strided_copy).
constexpr size_t kTile = 8;

// out[i] = in[offset(i)] for every element i of `out_dims`, C order; in_strides are the
// input's element strides along each output dim.
void strided_copy(const Dims& out_dims, const std::array<ptrdiff_t, kMaxRank>& in_strides, const float* in,
                  float* out) {
  std::array<std::array<ptrdiff_t, kMaxRank>, 2> strides{broadcast_strides(out_dims, out_dims), in_strides};
  Dims dims = out_dims;
  // An innermost run of a few elements (the interleave of a pixel shuffle, of a transposed
  // convolution's phases or of F.fold's patches: runs of 2) would make every run a row of its
  // own: a longer dim runs innermost instead, strided on both sides, the one whose larger stride
  // is the smallest (the longest of those), so its elements share cache lines. The longest dim
  // alone could be the channels, a plane apart on both sides: MobileViT's fold of 64 channels of
  // 2x2 patches on 32x32 took 3 ns an element.
  if (const StridedLoop<2> loop(dims, strides); !loop.empty() && loop.inner() < kShortRun && dims.size() > 1) {
    const auto reach = [&](size_t d) { return std::max(std::abs(strides[0][d]), std::abs(strides[1][d])); };
    std::optional<size_t> best;
    for (size_t d = 0; d + 1 < dims.size(); d++) {
      if (dims[d] <= loop.inner()) continue;
      if (!best || reach(d) < reach(*best) || (reach(d) == reach(*best) && dims[d] >= dims[*best])) best = d;
    }
    if (best) {
      std::rotate(dims.begin() + *best, dims.begin() + *best + 1, dims.end());
      for (auto& s : strides) std::rotate(s.begin() + *best, s.begin() + *best + 1, s.begin() + dims.size());
    }
  }
  const StridedLoop<2> loop(dims, strides);
  if (loop.empty()) return;
  const ptrdiff_t out_step = loop.inner_stride(0), step = loop.inner_stride(1);
  // A transpose (each output row reads the input down a column, the next output row the next
  // column) goes by tiles of kTile output rows, in 4x4 blocks: element by element, reads a row
  // length apart each miss the cache (at 1024 floats all in one L1 set); kTile rows keep as
  // many lines in use on either side (within the 8 ways of an L1 set).
  if (out_step == 1 && step != 0 && step != 1 && loop.rank() >= 2 && loop.stride(1, loop.rank() - 2) == 1) {
    const size_t columns = loop.size(loop.rank() - 2), tiles = pp_divide_round_up(columns, kTile);
    const ptrdiff_t out_row = loop.stride(0, loop.rank() - 2);
    parallel_rows(loop.rows() / columns * tiles, loop.inner(), [&](size_t first, size_t count, size_t begin, size_t end) {
      for (size_t g = first; g < first + count; g++) {
        const size_t column = g % tiles * kTile, width = std::min(kTile, columns - column);
        loop.for_rows(g / tiles * columns + column, 1, [&](const StridedLoop<2>::Offsets& offset) {
          const float* x = in + offset[1];
          float* y = out + offset[0];
          const auto at = [&](size_t i, size_t j) {
            return std::pair(x + static_cast<ptrdiff_t>(i) * step + static_cast<ptrdiff_t>(j),
                             y + static_cast<ptrdiff_t>(j) * out_row + static_cast<ptrdiff_t>(i));
          };
          const size_t blocked = begin + (end - begin) / 4 * 4, wide = width / 4 * 4;
          for (size_t i = begin; i < end; i += 4) {
            for (size_t j = 0; j < width; j += 4) {
              if (i < blocked && j < wide) {
                const auto [from, to] = at(i, j);
                transpose4x4(from, step, to, out_row);
                continue;
              }
              for (size_t a = i; a < std::min(end, i + 4); a++)
                for (size_t b = j; b < std::min(width, j + 4); b++) *at(a, b).second = *at(a, b).first;
            }
          }
        });
      }
    }, kTile);
    return;
  }
  parallel_rows(loop.rows(), loop.inner(), [&](size_t row, size_t rows, size_t begin, size_t end) {
    loop.for_rows(row, rows, [&](const StridedLoop<2>::Offsets& offset) {
      float* y = out + offset[0] + static_cast<ptrdiff_t>(begin) * out_step;
      const float* x = in + offset[1] + static_cast<ptrdiff_t>(begin) * step;
      const size_t n = end - begin;
      if (out_step != 1) {
        for (size_t i = 0; i < n; i++) y[static_cast<ptrdiff_t>(i) * out_step] = x[static_cast<ptrdiff_t>(i) * step];
      } else if (step == 1) {
        std::memcpy(y, x, n * sizeof(float));
      } else if (step == 0) {
        std::fill(y, y + n, *x);
      } else {
        for (size_t i = 0; i < n; i++) y[i] = x[static_cast<ptrdiff_t>(i) * step];
      }
    });
  });
}

// Joined row o (of `outer`) is the concatenation of row o of every part, part i having parts[i]
// elements per row: copy(i, part_offset, joined_offset, n, rows) for every column range of n
// elements of a part, over `rows` consecutive rows (runs parts[i] apart in the part, the joined
// row's length apart in the joined tensor), in tasks over the joined rows (concat copies the
// parts in, split out).
template <class Copy>
void for_parts(size_t outer, const std::vector<size_t>& parts, Copy copy) {
  const size_t row = std::accumulate(parts.begin(), parts.end(), size_t{0});
  parallel_rows(outer, row, [&](size_t first, size_t count, size_t begin, size_t end) {
    size_t at = 0;
    for (size_t i = 0; i < parts.size(); at += parts[i], i++) {
      const size_t lo = std::max(begin, at), hi = std::min(end, at + parts[i]);
      if (lo < hi) copy(i, first * parts[i] + (lo - at), first * row + lo, hi - lo, count);
    }
  });
}

// `rows` runs of n floats, the runs src_stride and dst_stride apart, each run copied inline where
// it is short (a libc memcpy call costs more than a few floats): a stack along the last dim joins
// single elements.
void copy_runs(const float* src, size_t src_stride, float* dst, size_t dst_stride, size_t n, size_t rows) {
  if (n == 1) {
    for (size_t r = 0; r < rows; r++) dst[r * dst_stride] = src[r * src_stride];
  } else if (n <= 64) {
    for (size_t r = 0; r < rows; r++) copy_row(src + r * src_stride, n, dst + r * dst_stride);
  } else {
    for (size_t r = 0; r < rows; r++) std::memcpy(dst + r * dst_stride, src + r * src_stride, n * sizeof(float));
  }
}

class Concat final : public NodeOperator {
 public:
  explicit Concat(const Attributes& attrs) : NodeOperator(attrs) {
    attrs.only({"axis"});
    axis_ = static_cast<size_t>(attrs.integer("axis", 0, kMaxAxis));
  }

  std::vector<Dims> output_shapes(const std::vector<Dims>& inputs) const override {
    expect_inputs(inputs, 1, kAnyCount);
    expect_axis(inputs[0], axis_, "axis");
    Dims y = inputs[0];
    for (size_t i = 1; i < inputs.size(); i++) {
      Dims x = inputs[i];
      if (x.size() == y.size()) x[axis_] = y[axis_];
      if (x != y)
        fail("input " + std::to_string(i) + " of shape " + to_string(inputs[i]) + " does not fit input 0 of shape " +
             to_string(inputs[0]) + " along axis " + std::to_string(axis_));
      y[axis_] = sized([&] { return checked_add(y[axis_], inputs[i][axis_], "the output"); });
    }
    expect_size(y);
    return {y};
  }

  void run(const std::vector<const float*>& in, const std::vector<Dims>& in_shapes, const std::vector<float*>& out,
           const std::vector<Dims>&) const override {
    const Dims& x0 = in_shapes[0];
    const size_t inner = span(x0, axis_ + 1, x0.size());
    std::vector<size_t> parts;
    for (const Dims& x : in_shapes) parts.push_back(x[axis_] * inner);
    const size_t row = std::accumulate(parts.begin(), parts.end(), size_t{0});
    float* y = out[0];
    for_parts(span(x0, 0, axis_), parts, [&](size_t i, size_t part_at, size_t joined_at, size_t n, size_t rows) {
      copy_runs(in[i] + part_at, parts[i], y + joined_at, row, n, rows);
    });
  }

  std::string describe() const override { return "concat axis " + std::to_string(axis_); }

 private:
  size_t axis_;
};

class Split final : public NodeOperator {
 public:
  explicit Split(const Attributes& attrs) : NodeOperator(attrs) {
    attrs.only({"axis", "sizes"});
    axis_ = static_cast<size_t>(attrs.integer("axis", 0, kMaxAxis));
    for (int64_t s : attrs.integer_list("sizes", 1, 1 << 16, 0, std::numeric_limits<int64_t>::max()))
      sizes_.push_back(static_cast<size_t>(s));
  }

  std::vector<Dims> output_shapes(const std::vector<Dims>& inputs) const override {
    expect_inputs(inputs, 1, 1);
    const Dims& x = inputs[0];
    expect_axis(x, axis_, "axis");
    size_t total = 0;
    for (size_t s : sizes_) total = sized([&] { return checked_add(total, s, "attribute 'sizes'"); });
    if (total != x[axis_])
      fail("attribute 'sizes' adds up to " + std::to_string(total) + " but the input " + to_string(x) + " has " +
           std::to_string(x[axis_]) + " along axis " + std::to_string(axis_));
    std::vector<Dims> ys(sizes_.size(), x);
    for (size_t i = 0; i < sizes_.size(); i++) ys[i][axis_] = sizes_[i];
    return ys;
  }

  void run(const std::vector<const float*>& in, const std::vector<Dims>& in_shapes, const std::vector<float*>& out,
           const std::vector<Dims>&) const override {
    const Dims& x = in_shapes[0];
    const size_t inner = span(x, axis_ + 1, x.size());
    std::vector<size_t> parts;
    for (size_t s : sizes_) parts.push_back(s * inner);
    const float* x_data = in[0];
    for_parts(span(x, 0, axis_), parts, [&](size_t i, size_t part_at, size_t joined_at, size_t n, size_t rows) {
      copy_runs(x_data + joined_at, x[axis_] * inner, out[i] + part_at, parts[i], n, rows);
    });
  }

  std::string describe() const override {
    return "split axis " + std::to_string(axis_) + " into " + std::to_string(sizes_.size());
  }

 private:
  size_t axis_;
  std::vector<size_t> sizes_;
};

class Slice final : public NodeOperator {
 public:
  explicit Slice(const Attributes& attrs) : NodeOperator(attrs) {
    attrs.only({"axis", "start", "end", "step"});
    constexpr int64_t lo = std::numeric_limits<int64_t>::min(), hi = std::numeric_limits<int64_t>::max();
    axis_ = static_cast<size_t>(attrs.integer("axis", 0, kMaxAxis));
    start_ = attrs.integer("start", lo, hi, 0);
    end_ = attrs.integer("end", lo, hi, hi);
    step_ = attrs.integer("step", -hi, hi, 1);
    if (step_ == 0) attrs.fail("attribute 'step' must not be 0");
  }

  std::vector<Dims> output_shapes(const std::vector<Dims>& inputs) const override {
    expect_inputs(inputs, 1, 1);
    expect_axis(inputs[0], axis_, "axis");
    Dims y = inputs[0];
    y[axis_] = range(y[axis_]).second;
    return {y};
  }

  void run(const std::vector<const float*>& in, const std::vector<Dims>& in_shapes, const std::vector<float*>& out,
           const std::vector<Dims>& out_shapes) const override {
    const Dims& x = in_shapes[0];
    std::array<ptrdiff_t, kMaxRank> strides = broadcast_strides(x, x);
    const ptrdiff_t along = static_cast<ptrdiff_t>(span(x, axis_ + 1, x.size()));
    const auto [start, count] = range(x[axis_]);
    // A single element needs no step (which may be huge: along * step_ could overflow).
    strides[axis_] = count > 1 ? along * step_ : 0;
    strided_copy(out_shapes[0], strides, in[0] + static_cast<ptrdiff_t>(start) * along, out[0]);
  }

  std::string describe() const override {
    return "slice axis " + std::to_string(axis_) + " [" + std::to_string(start_) + ":" + std::to_string(end_) + ":" +
           std::to_string(step_) + "]";
  }

 private:
  // First index and count along a dim of `n` elements, clamped like a Python slice: into
  // [0, n] going forward, into [-1, n - 1] going backward (-1: before the first element).
  std::pair<size_t, size_t> range(size_t n) const {
    const int64_t size = static_cast<int64_t>(n);
    const int64_t low = step_ > 0 ? 0 : -1, high = step_ > 0 ? size : size - 1;
    auto clamp = [=](int64_t i) { return i < 0 ? std::max(i + size, low) : std::min(i, high); };
    const int64_t start = clamp(start_), end = clamp(end_);
    const int64_t ahead = step_ > 0 ? end - start : start - end;
    const int64_t stride = step_ > 0 ? step_ : -step_;
    if (ahead <= 0) return {0, 0};
    return {static_cast<size_t>(start), static_cast<size_t>((ahead - 1) / stride + 1)};
  }

  size_t axis_;
  int64_t start_, end_, step_;
};

class Permute final : public NodeOperator {
 public:
  explicit Permute(const Attributes& attrs) : NodeOperator(attrs) {
    attrs.only({"dims"});
    for (int64_t d : attrs.integer_list("dims", 0, kMaxRank, 0, kMaxAxis)) dims_.push_back(static_cast<size_t>(d));
    std::vector<bool> seen(dims_.size(), false);
    for (size_t d : dims_) {
      if (d >= dims_.size() || seen[d])
        attrs.fail("attribute 'dims' must be a permutation of 0.." + std::to_string(dims_.size() - 1));
      seen[d] = true;
    }
  }

  std::vector<Dims> output_shapes(const std::vector<Dims>& inputs) const override {
    expect_inputs(inputs, 1, 1);
    const Dims& x = inputs[0];
    if (x.size() != dims_.size())
      fail("attribute 'dims' permutes " + std::to_string(dims_.size()) + " dims but the input " + to_string(x) +
           " has rank " + std::to_string(x.size()));
    Dims y(x.size());
    for (size_t i = 0; i < y.size(); i++) y[i] = x[dims_[i]];
    return {y};
  }

  void run(const std::vector<const float*>& in, const std::vector<Dims>& in_shapes, const std::vector<float*>& out,
           const std::vector<Dims>& out_shapes) const override {
    const std::array<ptrdiff_t, kMaxRank> x_strides = broadcast_strides(in_shapes[0], in_shapes[0]);
    std::array<ptrdiff_t, kMaxRank> strides{};
    for (size_t i = 0; i < dims_.size(); i++) strides[i] = x_strides[dims_[i]];
    strided_copy(out_shapes[0], strides, in[0], out[0]);
  }

  std::string describe() const override {
    std::string s = "permute (";
    for (size_t i = 0; i < dims_.size(); i++) s += (i ? ", " : "") + std::to_string(dims_[i]);
    return s + ")";
  }

 private:
  std::vector<size_t> dims_;
};

// An optional second input lends its dims: entry -(2 + j) is its dim j (a class token expanded to
// the batch of the activations); only its shape is read.
class Expand final : public NodeOperator {
 public:
  explicit Expand(const Attributes& attrs) : NodeOperator(attrs) {
    attrs.only({"shape"});
    shape_ = attrs.integer_list("shape", 0, kMaxRank, -1 - static_cast<int64_t>(kMaxRank),
                                std::numeric_limits<int64_t>::max());
  }

  std::vector<Dims> output_shapes(const std::vector<Dims>& inputs) const override {
    expect_inputs(inputs, 1, 2);
    const Dims& x = inputs[0];
    if (x.size() > shape_.size())
      fail("attribute 'shape' has " + std::to_string(shape_.size()) + " entries, fewer than the input " +
           to_string(x) + " has dims");
    const size_t lead = shape_.size() - x.size();
    Dims y(shape_.size());
    for (size_t i = 0; i < y.size(); i++) {
      if (shape_[i] == -1) {
        if (i < lead) fail("attribute 'shape' entry " + std::to_string(i) + " is -1 for a new leading dim");
        y[i] = x[i - lead];
        continue;
      }
      if (shape_[i] <= -2) {
        const size_t dim = static_cast<size_t>(-shape_[i] - 2);
        if (inputs.size() < 2 || dim >= inputs[1].size())
          fail("attribute 'shape' entry " + std::to_string(i) + " = " + std::to_string(shape_[i]) +
               " names a dim of a second input " + (inputs.size() < 2 ? "the node does not have" : to_string(inputs[1])));
        y[i] = inputs[1][dim];
      } else {
        y[i] = static_cast<size_t>(shape_[i]);
      }
      if (i >= lead && x[i - lead] != 1 && x[i - lead] != y[i])
        fail("cannot expand the input " + to_string(x) + " to attribute 'shape' entry " + std::to_string(i) + " = " +
             std::to_string(y[i]));
    }
    expect_size(y);
    return {y};
  }

  void run(const std::vector<const float*>& in, const std::vector<Dims>& in_shapes, const std::vector<float*>& out,
           const std::vector<Dims>& out_shapes) const override {
    strided_copy(out_shapes[0], broadcast_strides(in_shapes[0], out_shapes[0]), in[0], out[0]);
  }

  std::string describe() const override { return "expand"; }

 private:
  std::vector<int64_t> shape_;
};

}  // namespace

std::unique_ptr<Operator> make_concat(const Attributes& attrs, const std::vector<const Constant*>&) {
  return std::make_unique<Concat>(attrs);
}
std::unique_ptr<Operator> make_split(const Attributes& attrs, const std::vector<const Constant*>&) {
  return std::make_unique<Split>(attrs);
}
std::unique_ptr<Operator> make_slice(const Attributes& attrs, const std::vector<const Constant*>&) {
  return std::make_unique<Slice>(attrs);
}
std::unique_ptr<Operator> make_permute(const Attributes& attrs, const std::vector<const Constant*>&) {
  return std::make_unique<Permute>(attrs);
}
std::unique_ptr<Operator> make_expand(const Attributes& attrs, const std::vector<const Constant*>&) {
  return std::make_unique<Expand>(attrs);
}

}  // namespace pyprune::graph
