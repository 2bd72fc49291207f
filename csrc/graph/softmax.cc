// softmax: softmax (log = 0) or log_softmax (log = 1) along `axis`, as torch: the axis' maximum
// subtracted first. The tensor is (outer, n, inner) around the axis; with inner == 1 each row is
// contiguous (its exponentials on the vexpsum microkernel: attention's rows), otherwise the
// work runs across `inner` positions at once (per-thread scratch rows of the running maximum and
// sum; the classes of a segmentation map).
#include <cmath>
#include <limits>

#include "along_axis.h"
#include "parallel_rows.h"
#include "pyprune/dispatch.h"
#include "pyprune/graph/factories.h"
#include "row_reduce.h"
#include "softmax_row.h"

namespace pyprune::graph {
namespace {

class Softmax final : public AlongAxis {
 public:
  explicit Softmax(const Attributes& attrs) : AlongAxis(attrs) {
    attrs.only({"axis", "log"});
    log_ = attrs.integer("log", 0, 1, 0) != 0;
  }

  void run_along(const float* x, float* y, size_t outer, size_t n, size_t inner) const override {
    parallel_rows(outer, inner, [&](size_t first, size_t count, size_t begin, size_t end) {
      if (inner == 1 && n <= kShortRow) {
        short_rows(x + first * n, y + first * n, count, n);
        return;
      }
      for (size_t o = first; o < first + count; o++) {
        const float* xo = x + o * n * inner;
        float* yo = y + o * n * inner;
        if (inner == 1) {
          row(xo, yo, n);
        } else {
          columns(xo, yo, n, inner, begin, end);
        }
      }
    }, n);
  }

  std::string describe() const override { return std::string(log_ ? "log_softmax" : "softmax") + " axis " + std::to_string(axis_); }

 private:
  // A contiguous row (softmax_row.h); log_softmax's exponentials go where its results do.
  void row(const float* x, float* y, size_t n) const {
    if (!log_) {
      softmax_row_(x, y, n);
      return;
    }
    const float max = reduce_row<MaxOf>(x, n, -std::numeric_limits<float>::infinity());
    const float shift = max + std::log(exp_sum_.fn(n, x, max, y));
    for (size_t i = 0; i < n; i++) y[i] = x[i] - shift;
  }

  // Rows of a few entries each (a detector's scores per anchor: 1118 rows of 2 took 14 ns per
  // entry one row per call): each row's maximum subtracted, then the exponentials of all the
  // rows in one call, then each row's sum.
  static constexpr size_t kShortRow = 16;
  void short_rows(const float* x, float* y, size_t rows, size_t n) const {
    for (size_t r = 0; r < rows; r++) {
      const float max = reduce_row<MaxOf>(x + r * n, n, -std::numeric_limits<float>::infinity());
      for (size_t i = 0; i < n; i++) y[r * n + i] = x[r * n + i] - max;
    }
    exp_sum_.fn(rows * n, y, 0.0f, y);
    for (size_t r = 0; r < rows; r++) {
      float* yr = y + r * n;
      const float sum = reduce_row<SumOf>(yr, n, 0.0f);
      if (log_) {  // (x - max) - log(sum), as torch rounds it
        const float* xr = x + r * n;
        const float max = reduce_row<MaxOf>(xr, n, -std::numeric_limits<float>::infinity()), log_sum = std::log(sum);
        for (size_t i = 0; i < n; i++) yr[i] = (xr[i] - max) - log_sum;
      } else {
        const float scale = 1.0f / sum;
        for (size_t i = 0; i < n; i++) yr[i] *= scale;
      }
    }
  }

  // Positions [begin, end) of the inner dims, the axis `inner` floats apart: rows of the
  // positions through the elementwise kernels (the running maximum, x - max, its exponentials
  // on the vexpsum kernel written where the results go, their running sum), then one division.
  void columns(const float* x, float* y, size_t n, size_t inner, size_t begin, size_t end) const {
    thread_local std::vector<float> max, sum;
    const size_t w = end - begin;
    max.assign(x + begin, x + end);
    sum.assign(w, 0.0f);
    for (size_t i = 1; i < n; i++) fold_max_(w, max.data(), x + i * inner + begin);
    for (size_t i = 0; i < n; i++) {
      float* yi = y + i * inner + begin;
      sub_.fn(w, x + i * inner + begin, max.data(), yi, &kPpUnclamped);
      exp_sum_.fn(w, yi, 0.0f, yi);
      fold_sum_(w, sum.data(), yi);
    }
    if (log_)
      for (size_t j = 0; j < w; j++) max[j] += std::log(sum[j]);
    for (size_t i = 0; i < n; i++) {
      float* yi = y + i * inner + begin;
      if (log_) {
        sub_.fn(w, x + i * inner + begin, max.data(), yi, &kPpUnclamped);
      } else {
        div_.fn(w, yi, sum.data(), yi, &kPpUnclamped);
      }
    }
  }

  bool log_;
  const SoftmaxRow softmax_row_;
  const pp_f32_vexpsum_ukernel& exp_sum_ = pp_f32_vexpsum_config();
  const pp_f32_vbinary_ukernel& sub_ = pp_f32_vbinary_config(pp_vbinary_sub, false);
  const pp_f32_vbinary_ukernel& div_ = pp_f32_vbinary_config(pp_vbinary_div, false);
  const RowFold<MaxOf> fold_max_;
  const RowFold<SumOf> fold_sum_;
};

}  // namespace

std::unique_ptr<Operator> make_softmax(const Attributes& attrs, const std::vector<const Constant*>&) {
  return std::make_unique<Softmax>(attrs);
}

}  // namespace pyprune::graph
