// reduce: mean, sum, max, min, prod over `axes` (distinct, non-negative) with or without keepdim.
// The input is walked in order with the output's strides (0 along reduced dims): rows whose
// innermost dim is reduced fold into one value (vectorised, row_reduce.h), rows whose innermost
// dim is kept fold into a row of the output. Tasks split the leading kept dims and the trailing
// kept dim, so each output element belongs to one task and is computed in the same order
// whatever the thread count. Sums accumulate in double, products in float as torch's do. max/min
// propagate NaN; the mean of nothing is NaN and the product of nothing 1, like torch.
#include <algorithm>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "node_operator.h"
#include "parallel_rows.h"
#include "pyprune/graph/factories.h"
#include "row_reduce.h"
#include "strided.h"

namespace pyprune::graph {
namespace {

enum class ReduceKind { mean, sum, max, min, prod };  // in the order of reduce_kind_names()

const std::vector<std::string>& reduce_kind_names() {
  static const std::vector<std::string> names = {"mean", "sum", "max", "min", "prod"};
  return names;
}

class Reduce final : public NodeOperator {
 public:
  explicit Reduce(const Attributes& attrs) : NodeOperator(attrs) {
    attrs.only({"kind", "axes", "keepdim"});
    const std::string kind = attrs.text("kind", reduce_kind_names());
    const auto at = std::find(reduce_kind_names().begin(), reduce_kind_names().end(), kind);
    kind_ = static_cast<ReduceKind>(at - reduce_kind_names().begin());
    for (int64_t a : attrs.integer_list("axes", 1, kMaxRank, 0, kMaxRank - 1)) {
      if (reduced_[a]) attrs.fail("attribute 'axes' names axis " + std::to_string(a) + " twice");
      reduced_[a] = true;
      axes_.push_back(static_cast<size_t>(a));
    }
    keepdim_ = attrs.integer("keepdim", 0, 1, 0) != 0;
  }

  std::vector<Dims> output_shapes(const std::vector<Dims>& inputs) const override {
    expect_inputs(inputs, 1, 1);
    const Dims& x = inputs[0];
    Dims y;
    for (size_t a : axes_) {
      expect_axis(x, a, "axes");
      if (x[a] == 0 && (kind_ == ReduceKind::max || kind_ == ReduceKind::min))
        fail("cannot take the " + std::string(kind_ == ReduceKind::max ? "max" : "min") + " over the empty axis " +
             std::to_string(a) + " of " + to_string(x));
    }
    for (size_t d = 0; d < x.size(); d++) {
      if (!reduced_[d]) y.push_back(x[d]);
      if (reduced_[d] && keepdim_) y.push_back(1);
    }
    return {y};
  }

  void run(const std::vector<const float*>& in, const std::vector<Dims>& in_shapes, const std::vector<float*>& out,
           const std::vector<Dims>&) const override {
    const Dims& x = in_shapes[0];
    size_t count = 1, kept = 1;
    for (size_t d = 0; d < x.size(); d++) (reduced_[d] ? count : kept) *= x[d];
    float* y = out[0];
    switch (kind_) {
      case ReduceKind::mean:
      case ReduceKind::sum: fold<SumOf, double>(in[0], x, y, 0.0); break;
      case ReduceKind::max: fold<MaxOf, float>(in[0], x, y, -std::numeric_limits<float>::infinity()); break;
      case ReduceKind::min: fold<MinOf, float>(in[0], x, y, std::numeric_limits<float>::infinity()); break;
      case ReduceKind::prod: fold<ProductOf, float>(in[0], x, y, 1.0f); break;
    }
    if (kind_ == ReduceKind::mean)
      for (size_t i = 0; i < kept; i++) y[i] /= static_cast<float>(count);
  }

  std::string describe() const override {
    std::string s = "reduce " + reduce_kind_names()[static_cast<size_t>(kind_)] + " over (";
    for (size_t i = 0; i < axes_.size(); i++) s += (i ? ", " : "") + std::to_string(axes_[i]);
    return s + ")" + (keepdim_ ? " keepdim" : "");
  }

 private:
  // Folds x into y with Op, accumulating in Acc (double for sums, so that long reductions keep
  // float accuracy) in a per-thread scratch copy of each task's outputs.
  template <class Op, class Acc>
  void fold(const float* x, const Dims& shape, float* y, Acc identity) const {
    // Leading kept dims (one task range), then the rest walked with the output's strides.
    size_t lead = 1, d0 = 0;
    for (; d0 < shape.size() && !reduced_[d0]; d0++) lead *= shape[d0];
    const Dims rest(shape.begin() + d0, shape.end());
    std::array<ptrdiff_t, kMaxRank> y_strides{};
    ptrdiff_t stride = 1;
    size_t rest_in = 1, rest_out = 1;
    for (size_t d = rest.size(); d-- > 0;) {
      rest_in *= rest[d];
      if (reduced_[d0 + d] || rest[d] == 1) continue;
      y_strides[d] = stride;
      stride *= static_cast<ptrdiff_t>(rest[d]);
      rest_out *= rest[d];
    }
    const StridedLoop<2> loop(rest, {broadcast_strides(rest, rest), y_strides});
    if (loop.empty()) {
      std::fill(y, y + lead * rest_out, static_cast<float>(identity));
      return;
    }
    // Tasks: lead indices, and pieces of the innermost dim when it is kept (the columns of
    // every output row of the rest).
    const bool inner_kept = loop.inner_stride(1) != 0;
    const size_t columns = inner_kept ? loop.inner() : 1;
    // Kept rows fold into the output's rows in float on the elementwise kernels: sums of up to
    // kSumBlock terms (as long rows are summed in blocks), max, min and products of any count.
    const bool by_rows = inner_kept && (!std::is_same_v<Op, SumOf> || rest_in / rest_out <= kSumBlock);
    parallel_rows(lead, columns, [&](size_t first, size_t n, size_t begin, size_t end) {
      if constexpr (std::is_same_v<Op, SumOf>) {
        if (!inner_kept && loop.rows() == 1) {  // one row per lead index: the rows side by side
          sum_rows(x + first * rest_in, n, rest_in, rest_in, y + first);
          return;
        }
      }
      if (by_rows) {
        fold_rows<Op>(x, first, n, begin, end, loop, rest_in, rest_out, columns, y, static_cast<float>(identity));
        return;
      }
      // The task's accumulators: its columns [begin, end) of each output row of the rest, side
      // by side (a task that owns a piece of long rows must not touch, or clear, the others).
      const size_t width = end - begin;
      thread_local std::vector<Acc> scratch;
      scratch.assign(rest_out / columns * width, identity);
      auto row_of = [&](size_t out_offset) { return scratch.data() + out_offset / columns * width; };
      for (size_t l = first; l < first + n; l++) {
        const float* xl = x + l * rest_in;
        loop.for_rows(0, loop.rows(), [&](const StridedLoop<2>::Offsets& offset) {
          const float* xr = xl + offset[0];
          Acc* ar = row_of(static_cast<size_t>(offset[1]));
          if (!inner_kept) {
            if constexpr (std::is_same_v<Op, SumOf>) {
              *ar += sum_row(xr, loop.inner());
            } else {
              *ar = Op::combine(*ar, reduce_row<Op>(xr, loop.inner(), identity));
            }
          } else {
            for (size_t i = begin; i < end; i++) ar[i - begin] = Op::combine(ar[i - begin], xr[i]);
          }
        });
        // Out: this task's columns of every output row of the rest.
        float* yl = y + l * rest_out;
        for (size_t row = 0; row < rest_out; row += columns) {
          Acc* ar = row_of(row);
          for (size_t i = 0; i < width; i++) {
            yl[row + begin + i] = static_cast<float>(ar[i]);
            ar[i] = identity;
          }
        }
      }
    }, rest_in / columns);
  }

  // Lead indices [first, first + n), columns [begin, end) of every output row of the rest: the
  // output rows start at `identity`, and each input row folds into its output row.
  template <class Op>
  static void fold_rows(const float* x, size_t first, size_t n, size_t begin, size_t end, const StridedLoop<2>& loop,
                        size_t rest_in, size_t rest_out, size_t columns, float* y, float identity) {
    const RowFold<Op> fold;
    for (size_t l = first; l < first + n; l++) {
      float* yl = y + l * rest_out;
      for (size_t row = 0; row < rest_out; row += columns) std::fill(yl + row + begin, yl + row + end, identity);
      const float* xl = x + l * rest_in;
      loop.for_rows(0, loop.rows(), [&](const StridedLoop<2>::Offsets& offset) {
        float* yr = yl + offset[1] + begin;
        fold(end - begin, yr, xl + offset[0] + begin);
      });
    }
  }

  ReduceKind kind_;
  bool reduced_[kMaxRank] = {};
  std::vector<size_t> axes_;
  bool keepdim_ = false;
};

}  // namespace

std::unique_ptr<Operator> make_reduce(const Attributes& attrs, const std::vector<const Constant*>&) {
  return std::make_unique<Reduce>(attrs);
}

}  // namespace pyprune::graph
