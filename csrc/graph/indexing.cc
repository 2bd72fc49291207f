// topk, gather, take and scatter: the operators of indices, with which detection heads pick
// their best boxes without NMS (YOLOv10-style heads, DETR's query selection), embeddings look up
// their rows, and point-cloud and graph networks place features by computed positions (a
// pillar's cell of the BEV canvas, an edge's target node). The operator set holds float32 tensors
// only, so an index is a float32 holding an integer; float32 holds every integer up to 2^24
// exactly, so topk refuses dims longer than that and gather, take and scatter refuse an index
// that is not an integer in range. Scalar code, lines or rows in parallel, but for topk's first
// extreme of a contiguous line (argmax: a class per pixel, a nearest code), which takes the row
// extreme kernels.
#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>

#include "node_operator.h"
#include "parallel_rows.h"
#include "pyprune/graph/factories.h"
#include "row_reduce.h"
#include "strided.h"

namespace pyprune::graph {
namespace {

constexpr size_t kMaxIndexed = size_t{1} << 24;  // the longest dim whose indices are exact in float32

// Every index is checked before any is used: one that is not an integer in [0, n) is an error
// naming the node, never a stray read or write.
void check_indices(const std::string& node, const float* index, size_t count, size_t axis, size_t n) {
  for (size_t i = 0; i < count; i++)
    if (!(index[i] >= 0.0f && index[i] < static_cast<float>(n) && index[i] == std::floor(index[i]))) {
      std::ostringstream what;
      what << node << ": index " << index[i] << " is out of bounds for axis " << axis << " of size " << n;
      throw std::out_of_range(what.str());
    }
}

// torch.topk(x, k, axis, largest, sorted=True): the k largest (or smallest) values along `axis`
// in order, and their indices. NaN counts as larger than any number, as in torch. Equal values
// come in torch.topk's order: the same standard-library selection on (value, index) pairs as
// torch's CPU kernel (a partial sort when k * 64 <= n, else nth_element then a sort of the
// k - 1 before it), which leaves them in an order of its own. With `stable`, they keep the order
// of their indices instead: argmax's first maximum, a stable sort.
class TopK final : public NodeOperator {
 public:
  explicit TopK(const Attributes& attrs) : NodeOperator(attrs) {
    attrs.only({"axis", "k", "largest", "stable"});
    axis_ = static_cast<size_t>(attrs.integer("axis", 0, kMaxAxis));
    k_ = static_cast<size_t>(attrs.integer("k", 0, static_cast<int64_t>(kMaxIndexed)));
    largest_ = attrs.integer("largest", 0, 1, 1) == 1;
    stable_ = attrs.integer("stable", 0, 1, 0) == 1;
  }

  std::vector<Dims> output_shapes(const std::vector<Dims>& inputs) const override {
    expect_inputs(inputs, 1, 1);
    const Dims& x = inputs[0];
    expect_axis(x, axis_, "axis");
    if (x[axis_] > kMaxIndexed)
      fail("axis " + std::to_string(axis_) + " of the input " + to_string(x) +
           " is longer than 2^24, past the integers float32 holds exactly");
    if (k_ > x[axis_])
      fail("attribute 'k' is " + std::to_string(k_) + " but the input " + to_string(x) + " has " +
           std::to_string(x[axis_]) + " along axis " + std::to_string(axis_));
    Dims y = x;
    y[axis_] = k_;
    return {y, y};
  }

  void run(const std::vector<const float*>& in, const std::vector<Dims>& in_shapes, const std::vector<float*>& out,
           const std::vector<Dims>&) const override {
    const Dims& x = in_shapes[0];
    const size_t n = x[axis_], inner = span(x, axis_ + 1, x.size()), lines = span(x, 0, axis_) * inner;
    if (k_ == 0 || lines == 0) return;
    // k = 1 with the first of equal values (stable, or the partial sort's heap of one, which
    // takes a value only when strictly before): one pass over the rows, as max(dim) / argmax.
    if (k_ == 1 && (stable_ || n >= 64)) {
      (largest_ ? first_extreme<true> : first_extreme<false>)(in[0], n, inner, lines / inner, out[0], out[1]);
      return;
    }
    // One task per group of lines; a line costs about n log k comparisons.
    parallel_rows(lines, 1, [&](size_t first, size_t count, size_t, size_t) {
      std::vector<Entry> queue(n);
      for (size_t l = first; l < first + count; l++) {
        const size_t outer = l / inner, at = l % inner;
        const float* xs = in[0] + outer * n * inner + at;
        for (size_t i = 0; i < n; i++) queue[i] = {xs[i * inner], static_cast<int64_t>(i)};
        select(queue);
        float* values = out[0] + outer * k_ * inner + at;
        float* indices = out[1] + outer * k_ * inner + at;
        for (size_t j = 0; j < k_; j++) {
          values[j * inner] = queue[j].first;
          indices[j * inner] = static_cast<float>(queue[j].second);
        }
      }
    }, n + 8);
  }

  std::string describe() const override {
    return std::string("topk ") + (largest_ ? "largest " : "smallest ") + std::to_string(k_) + " axis " +
           std::to_string(axis_) + (stable_ ? " stable" : "");
  }

 private:
  using Entry = std::pair<float, int64_t>;

  // Whether value a comes before b: NaN counts as larger than any number.
  template <bool kLargest>
  static bool before(float a, float b) {
    const bool na = std::isnan(a), nb = std::isnan(b);
    return kLargest ? (na && !nb) || a > b : (!na && nb) || a < b;
  }

  // The first largest (or smallest) of n contiguous values: the row's extreme on its microkernel
  // (reduce_row), then the first value equal to it (its own sign of zero). A line holding NaN
  // (the extreme kernels give NaN for it, where topk orders NaN above every number) takes a
  // scalar scan.
  template <bool kLargest>
  static void first_in_line(const float* x, size_t n, float* value, float* index) {
    const float extreme = kLargest ? reduce_row<MaxOf>(x, n, -std::numeric_limits<float>::infinity())
                                   : reduce_row<MinOf>(x, n, std::numeric_limits<float>::infinity());
    size_t first = 0;
    if (std::isnan(extreme)) {
      for (size_t j = 1; j < n; j++)
        if (before<kLargest>(x[j], x[first])) first = j;
    } else {
      while (!(x[first] == extreme)) first++;
    }
    *value = x[first];
    *index = static_cast<float>(first);
  }

  // The first largest (or smallest) of each line of n values `inner` apart, outer blocks of
  // n * inner: a line of contiguous values in one scan, strided lines a block's rows at a time.
  template <bool kLargest>
  static void first_extreme(const float* x, size_t n, size_t inner, size_t outer, float* values, float* indices) {
    parallel_rows(outer, inner, [&](size_t first, size_t count, size_t begin, size_t end) {
      for (size_t o = first; o < first + count; o++) {
        const float* rows = x + o * n * inner;
        float* best = values + o * inner;
        float* at = indices + o * inner;
        if (inner == 1) {
          first_in_line<kLargest>(rows, n, best, at);
          continue;
        }
        std::copy(rows + begin, rows + end, best + begin);
        std::fill(at + begin, at + end, 0.0f);
        for (size_t i = 1; i < n; i++) {
          const float* row = rows + i * inner;
          for (size_t j = begin; j < end; j++) {
            if (before<kLargest>(row[j], best[j])) {
              best[j] = row[j];
              at[j] = static_cast<float>(i);
            }
          }
        }
      }
    }, n);
  }

  // Moves the k first entries (in order) to the front of `queue`.
  void select(std::vector<Entry>& queue) const {
    const bool largest = largest_;
    const auto before = [largest](const Entry& a, const Entry& b) {
      return largest ? TopK::before<true>(a.first, b.first) : TopK::before<false>(a.first, b.first);
    };
    const auto k = static_cast<ptrdiff_t>(k_);
    if (stable_) {
      std::partial_sort(queue.begin(), queue.begin() + k, queue.end(), [&](const Entry& a, const Entry& b) {
        return before(a, b) || (!before(b, a) && a.second < b.second);
      });
    } else if (k_ * 64 <= queue.size()) {
      std::partial_sort(queue.begin(), queue.begin() + k, queue.end(), before);
    } else {
      std::nth_element(queue.begin(), queue.begin() + k - 1, queue.end(), before);
      std::sort(queue.begin(), queue.begin() + k - 1, before);
    }
  }

  size_t axis_, k_;
  bool largest_, stable_;
};

// An operator of x and an index along its one attribute, `axis` (gather, take).
class ByIndex : public NodeOperator {
 public:
  explicit ByIndex(const Attributes& attrs) : NodeOperator(attrs) {
    attrs.only({"axis"});
    axis_ = static_cast<size_t>(attrs.integer("axis", 0, kMaxAxis));
  }

 protected:
  void expect_x_and_index(const std::vector<Dims>& inputs) const {
    expect_inputs(inputs, 2, 2);
    expect_axis(inputs[0], axis_, "axis");
  }

  size_t axis_;
};

// torch.gather(x, axis, index): y[i...] = x[i... with index[i...] at `axis`]. index has x's
// rank and, along every other axis, at most x's size; the output has index's shape.
class Gather final : public ByIndex {
 public:
  using ByIndex::ByIndex;

  std::vector<Dims> output_shapes(const std::vector<Dims>& inputs) const override {
    expect_x_and_index(inputs);
    const Dims &x = inputs[0], &index = inputs[1];
    bool fits = index.size() == x.size();
    for (size_t d = 0; fits && d < x.size(); d++) fits = d == axis_ || index[d] <= x[d];
    if (!fits)
      fail("the index " + to_string(index) + " does not fit the input " + to_string(x) +
           ": it needs the input's rank and at most its size along every axis but " + std::to_string(axis_));
    return {index};
  }

  void run(const std::vector<const float*>& in, const std::vector<Dims>& in_shapes, const std::vector<float*>& out,
           const std::vector<Dims>& out_shapes) const override {
    const Dims &x = in_shapes[0], &y = out_shapes[0];
    const size_t count = elements(y), n = x[axis_];
    const float* index = in[1];
    check_indices(node(), index, count, axis_, n);
    std::array<ptrdiff_t, kMaxRank> x_strides = broadcast_strides(x, x);
    const ptrdiff_t along = static_cast<ptrdiff_t>(span(x, axis_ + 1, x.size()));
    x_strides[axis_] = 0;  // the index gives the place along the axis
    const StridedLoop<2> loop(y, {broadcast_strides(y, y), x_strides});
    if (loop.empty()) return;
    const ptrdiff_t step = loop.inner_stride(1);
    float* const output = out[0];
    parallel_rows(loop.rows(), loop.inner(), [&](size_t row, size_t rows, size_t begin, size_t end) {
      loop.for_rows(row, rows, [&](const StridedLoop<2>::Offsets& at) {
        for (size_t i = begin; i < end; i++) {
          const ptrdiff_t o = at[0] + static_cast<ptrdiff_t>(i);
          output[o] = in[0][at[1] + static_cast<ptrdiff_t>(i) * step + static_cast<ptrdiff_t>(index[o]) * along];
        }
      });
    });
  }

  std::string describe() const override { return "gather axis " + std::to_string(axis_); }
};

// x.index_select(axis, index) for an index of any shape (nn.Embedding's lookup, a relative
// position bias read from its table): index's shape in place of `axis`, each of its entries
// taking x's whole slice at that place along the axis. One copy of a contiguous run per entry
// and outer index, where gather would read an index per element (its index expanded over the
// other dims first): 1 thread, an embedding table's rows at 197 token ids, 768 wide, 12x faster
// than that expand and gather; a relative position bias (197 x 197 ids into a table 12 wide) 5x.
class Take final : public ByIndex {
 public:
  using ByIndex::ByIndex;

  std::vector<Dims> output_shapes(const std::vector<Dims>& inputs) const override {
    expect_x_and_index(inputs);
    const Dims &x = inputs[0], &index = inputs[1];
    Dims y(x.begin(), x.begin() + static_cast<ptrdiff_t>(axis_));
    y.insert(y.end(), index.begin(), index.end());
    y.insert(y.end(), x.begin() + static_cast<ptrdiff_t>(axis_) + 1, x.end());
    if (y.size() > kMaxRank)
      fail("the input " + to_string(x) + " with the index " + to_string(index) + " in place of axis " +
           std::to_string(axis_) + " has rank " + std::to_string(y.size()) + ", more than " + std::to_string(kMaxRank));
    return {y};
  }

  void run(const std::vector<const float*>& in, const std::vector<Dims>& in_shapes, const std::vector<float*>& out,
           const std::vector<Dims>&) const override {
    const Dims& x = in_shapes[0];
    const size_t outer = span(x, 0, axis_), n = x[axis_], inner = span(x, axis_ + 1, x.size());
    const size_t picks = elements(in_shapes[1]);
    const float* index = in[1];
    check_indices(node(), index, picks, axis_, n);
    const float* const input = in[0];
    float* const output = out[0];
    // Row (o, j): x's slice o at index[j], inner floats.
    parallel_rows(outer * picks, inner, [&](size_t row, size_t rows, size_t begin, size_t end) {
      for (size_t r = row; r < row + rows; r++) {
        const size_t at = (r / picks * n + static_cast<size_t>(index[r % picks])) * inner;
        std::copy(input + at + begin, input + at + end, output + r * inner + begin);
      }
    });
  }

  std::string describe() const override { return "take axis " + std::to_string(axis_); }
};

// torch.scatter(x, axis, index, src) and its reductions: x, with src[p] written (or added, or
// its maximum or minimum taken) at each position p of the index but with index[p] along `axis`.
// index has x's rank, src's sizes at most along every dim, x's at most along all but `axis`.
// Equal indices along a line are taken in index order (the last written wins, sums in that
// order); lines are independent, so threads share them.
class Scatter final : public NodeOperator {
 public:
  explicit Scatter(const Attributes& attrs) : NodeOperator(attrs) {
    attrs.only({"axis", "reduce"});
    axis_ = static_cast<size_t>(attrs.integer("axis", 0, kMaxAxis));
    const std::string reduce = attrs.text("reduce", {"none", "add", "max", "min"}, "none");
    reduce_ = reduce == "add" ? Reduce::add : reduce == "max" ? Reduce::max : reduce == "min" ? Reduce::min : Reduce::none;
  }

  std::vector<Dims> output_shapes(const std::vector<Dims>& inputs) const override {
    expect_inputs(inputs, 3, 3);
    const Dims &x = inputs[0], &index = inputs[1], &src = inputs[2];
    expect_axis(x, axis_, "axis");
    bool fits = index.size() == x.size() && src.size() == x.size();
    for (size_t d = 0; fits && d < x.size(); d++) fits = index[d] <= src[d] && (d == axis_ || index[d] <= x[d]);
    if (!fits)
      fail("the index " + to_string(index) + " does not fit the input " + to_string(x) + " and the source " +
           to_string(src) + ": it needs their rank, at most the source's size along every axis and the "
           "input's along every axis but " + std::to_string(axis_));
    return {x};
  }

  void run(const std::vector<const float*>& in, const std::vector<Dims>& in_shapes, const std::vector<float*>& out,
           const std::vector<Dims>&) const override {
    const Dims &x = in_shapes[0], &index = in_shapes[1], &src = in_shapes[2];
    const size_t n = x[axis_], count = elements(index);
    const float* at = in[1];
    check_indices(node(), at, count, axis_, n);
    float* y = out[0];
    std::copy(in[0], in[0] + elements(x), y);
    if (count == 0) return;
    const auto x_strides = broadcast_strides(x, x), index_strides = broadcast_strides(index, index),
               src_strides = broadcast_strides(src, src);
    const Reduce reduce = reduce_;
    const size_t axis = axis_, length = index[axis_], lines = count / length;
    parallel_rows(lines, length, [&](size_t first, size_t rows, size_t, size_t) {
      for (size_t line = first; line < first + rows; line++) {
        // The line's coordinates along every dim but the axis, innermost first.
        ptrdiff_t xo = 0, io = 0, so = 0;
        size_t rest = line;
        for (size_t d = index.size(); d-- > 0;) {
          if (d == axis) continue;
          const ptrdiff_t c = static_cast<ptrdiff_t>(rest % index[d]);
          rest /= index[d];
          xo += c * x_strides[d];
          io += c * index_strides[d];
          so += c * src_strides[d];
        }
        for (size_t j = 0; j < length; j++) {
          const ptrdiff_t jj = static_cast<ptrdiff_t>(j);
          float& to = y[xo + static_cast<ptrdiff_t>(at[io + jj * index_strides[axis]]) * x_strides[axis]];
          const float v = in[2][so + jj * src_strides[axis]];
          switch (reduce) {
            case Reduce::none: to = v; break;
            case Reduce::add: to += v; break;
            // NaN on either side wins, as torch's amax / amin have it
            case Reduce::max: to = std::isnan(to) || v <= to ? to : v; break;
            case Reduce::min: to = std::isnan(to) || v >= to ? to : v; break;
          }
        }
      }
    }, length);
  }

  std::string describe() const override {
    static const char* names[] = {"", " add", " max", " min"};
    return "scatter axis " + std::to_string(axis_) + names[static_cast<int>(reduce_)];
  }

 private:
  enum class Reduce { none, add, max, min };
  size_t axis_;
  Reduce reduce_;
};

}  // namespace

std::unique_ptr<Operator> make_scatter(const Attributes& attrs, const std::vector<const Constant*>&) {
  return std::make_unique<Scatter>(attrs);
}
std::unique_ptr<Operator> make_topk(const Attributes& attrs, const std::vector<const Constant*>&) {
  return std::make_unique<TopK>(attrs);
}
std::unique_ptr<Operator> make_gather(const Attributes& attrs, const std::vector<const Constant*>&) {
  return std::make_unique<Gather>(attrs);
}
std::unique_ptr<Operator> make_take(const Attributes& attrs, const std::vector<const Constant*>&) {
  return std::make_unique<Take>(attrs);
}

}  // namespace pyprune::graph
