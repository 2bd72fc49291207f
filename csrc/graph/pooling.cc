// max_pool2d, avg_pool2d, adaptive_avg_pool2d, adaptive_max_pool2d over the last two dims of a
// (N, C, H, W) or (C, H, W) tensor, with torch's output sizes, window clipping and divisors.
// Windowed pools work per output row. With a row pooling microkernel for the window's width and
// stride (f32-hpool: 3 s2, 3 s1, 2 s2), windows up to 3 wide are pooled straight from the input
// rows where they end inside them (the kernel leaves out the padding before a row), and the few
// at the right edge one by one in the kernel's order. Otherwise the window's input rows are
// combined into one padded row (the elementwise kernels; padding holds -inf or 0), then the row
// kernel (5 s1), or a plain loop, pools along it. Narrow planes are padded and stacked, their
// window rows combined over the whole stack, and the row kernel pools it in one call
// (WindowPool::stacked): the same sums in the same order. A global pool (adaptive to 1x1, or
// one window on the whole unpadded plane) reduces whole planes as contiguous runs, sums by the
// row-sum microkernel. Max pools propagate NaN like torch.
#include <algorithm>
#include <limits>
#include <type_traits>
#include <utility>
#include <vector>

#include "../ops/aligned_buffer.h"
#include "../ops/copy_row.h"
#include "node_operator.h"
#include "parallel_rows.h"
#include "pyprune/dispatch.h"
#include "pyprune/graph/factories.h"
#include "pyprune/shape.h"
#include "row_reduce.h"

namespace pyprune::graph {
namespace {

constexpr int64_t kMaxWindow = 1 << 20;

// The start value of a pool's accumulator.
template <class Op>
float identity() {
  return std::is_same_v<Op, MaxOf> ? -std::numeric_limits<float>::infinity() : 0.0f;
}

// A stack of padded planes (WindowPool::stacked) takes at most this many floats (its columns
// and its pooled copy as many again: all in L2); planes whose padded rows are at most
// kStackedWidth wide go on stacks.
constexpr size_t kStackFloats = 8192;
constexpr size_t kStackedWidth = 24;

// Each of `runs` contiguous runs of `run` floats at x pooled to one value at y (the global pool:
// whole planes): its max, or its sum over `divisor`.
void pool_runs(const float* x, size_t runs, size_t run, bool max, float divisor, float* y) {
  parallel_rows(runs, 1, [&](size_t first, size_t count, size_t, size_t) {
    const float* x0 = x + first * run;
    float* y0 = y + first;
    if (max) {
      for (size_t p = 0; p < count; p++) y0[p] = reduce_row<MaxOf>(x0 + p * run, run, identity<MaxOf>());
    } else {
      sum_rows(x0, count, run, run, y0);
      for (size_t p = 0; p < count; p++) y0[p] /= divisor;
    }
  }, run);
}

// One spatial dim of a windowed pool: window o covers input start(o) + i * dilation for
// i < kernel, where the index lies in [0, size).
struct Axis {
  int64_t size, out, kernel, stride, dilation, pad_begin, pad_end;

  int64_t start(int64_t o) const { return o * stride - pad_begin; }
  int64_t extent() const { return (kernel - 1) * dilation + 1; }
};

// torch's pooling output size (pooling_output_shape_pad_lr): with ceil_mode, the last window
// must start inside the input or its begin padding.
int64_t pooled_size(int64_t size, int64_t kernel, int64_t stride, int64_t dilation, int64_t pad_begin,
                    int64_t pad_end, bool ceil_mode) {
  const int64_t span = size + pad_begin + pad_end - (kernel - 1) * dilation - 1 + (ceil_mode ? stride - 1 : 0);
  if (span < 0) return 0;
  int64_t out = span / stride + 1;
  if (ceil_mode && (out - 1) * stride >= size + pad_begin) out--;
  return out;
}

// The shared shape rules of the pools: (N, C, H, W) or (C, H, W) input, pooled over H and W.
class Pool2d : public NodeOperator {
 protected:
  using NodeOperator::NodeOperator;

  void expect_image(const std::vector<Dims>& inputs) const {
    expect_inputs(inputs, 1, 1);
    if (inputs[0].size() != 3 && inputs[0].size() != 4)
      fail("input must be (N, C, H, W) or (C, H, W), got " + to_string(inputs[0]));
  }
  static size_t planes(const Dims& x) { return x.size() == 4 ? x[0] * x[1] : x[0]; }
  static Dims with_plane(const Dims& x, size_t h, size_t w) {
    Dims y = x;
    y[y.size() - 2] = h;
    y[y.size() - 1] = w;
    return y;
  }
};

// max_pool2d and avg_pool2d.
class WindowPool final : public Pool2d {
 public:
  WindowPool(const Attributes& attrs, bool max) : Pool2d(attrs), max_(max) {
    if (max) {
      attrs.only({"kernel", "stride", "padding", "dilation", "ceil_mode"});
    } else {
      attrs.only({"kernel", "stride", "padding", "ceil_mode", "count_include_pad", "divisor"});
    }
    kernel_ = attrs.integers("kernel", 2, 1, kMaxWindow);
    stride_ = attrs.integers("stride", 2, 1, kMaxWindow, kernel_);
    dilation_ = max ? attrs.integers("dilation", 2, 1, kMaxWindow, {1, 1}) : std::vector<int64_t>{1, 1};
    padding_ = attrs.integers("padding", 4, 0, kMaxWindow, {0, 0, 0, 0});
    ceil_mode_ = attrs.integer("ceil_mode", 0, 1, 0) != 0;
    if (!max) {
      count_include_pad_ = attrs.integer("count_include_pad", 0, 1, 1) != 0;
      divisor_ = attrs.integer("divisor", 0, kMaxWindow * kMaxWindow, 0);
    }
    hpool_ = dilation_[1] == 1 ? pp_f32_hpool_config(max ? pp_hpool_max : pp_hpool_sum, kernel_[1], stride_[1]) : nullptr;
    // torch's limit: padding at most half the kernel.
    for (size_t i = 0; i < 4; i++)
      if (padding_[i] > kernel_[i % 2] / 2)
        attrs.fail("attribute 'padding' entry " + std::to_string(i) + " is " + std::to_string(padding_[i]) +
                   ", more than half the kernel (" + std::to_string(kernel_[i % 2]) + ")");
  }

  std::vector<Dims> output_shapes(const std::vector<Dims>& inputs) const override {
    expect_image(inputs);
    const Dims& x = inputs[0];
    const Axis h = axis(x, 0), w = axis(x, 1);
    if (h.out < 1 || w.out < 1)
      fail("input " + to_string(x) + " is smaller than the " + std::to_string(kernel_[0]) + "x" +
           std::to_string(kernel_[1]) + " window even with the padding");
    return {with_plane(x, static_cast<size_t>(h.out), static_cast<size_t>(w.out))};
  }

  void run(const std::vector<const float*>& in, const std::vector<Dims>& in_shapes, const std::vector<float*>& out,
           const std::vector<Dims>&) const override {
    const Dims& x = in_shapes[0];
    const Axis h = axis(x, 0), w = axis(x, 1);
    const size_t plane_in = static_cast<size_t>(h.size * w.size), plane_out = static_cast<size_t>(h.out * w.out);
    // The combined row: the input row at offset pad_begin, identity before it and after it as
    // far as the last window reaches, plus the kernels' overread.
    const size_t lead = static_cast<size_t>(w.pad_begin), size = static_cast<size_t>(w.size);
    const size_t reach = std::max<size_t>(lead + size, static_cast<size_t>((w.out - 1) * w.stride + w.extent()));
    const size_t width = reach + PP_HPOOL_OVERREAD;
    // Windows 5 or more wide combine their rows into the padded row first, where the row kernel
    // takes every output: from the input rows it would take each tap of each row (25 loads per 8
    // outputs for 5x5) and leave the outputs at the edges to a scalar loop. SPPF's 5x5 stride-1
    // pools, 10x10 to 80x80 inputs: 3-10x faster that way; 2x2 and 3x3 windows 2x slower.
    const int64_t kernel_end = w.kernel >= 5 ? 0 : kernel_outputs(w);
    // An average's divisor is its row's window count times its column's: the columns' once.
    std::vector<float> column_counts;
    if (!max_ && divisor_ == 0)
      for (int64_t ox = 0; ox < w.out; ox++) column_counts.push_back(static_cast<float>(count(w, ox)));
    const bool unpadded = padding_ == std::vector<int64_t>(4, 0);
    const auto whole = [](const Axis& a) { return a.kernel == a.size && a.extent() == a.size; };
    if (unpadded && h.out == 1 && w.out == 1 && whole(h) && whole(w)) {
      // One window on the whole plane (avg_pool2d(x, 7) after a 7x7 map): the global pool. Not
      // a dilated one: it skips positions, or reaches past the plane (ceil mode).
      pool_runs(in[0], planes(x), plane_in, max_, static_cast<float>(divisor_ != 0 ? divisor_ : plane_in), out[0]);
      return;
    }
    if (const Stack stack = stacked(h, w); stack.planes > 0) {
      run_stacked(stack, in[0], out[0], planes(x), h, w, column_counts.data());
      return;
    }
    parallel_rows(planes(x), static_cast<size_t>(h.out), [&](size_t first, size_t count, size_t begin, size_t end) {
      thread_local AlignedBuffer buffer;
      buffer.reserve(width);
      float* row = buffer.data();
      const float none = max_ ? -std::numeric_limits<float>::infinity() : 0.0f;
      std::fill(row, row + lead, none);
      std::fill(row + lead + size, row + width, none);
      // Local copies: through the captured references, every row would load them again after
      // the kernel call.
      const Axis rows_axis = h, cols_axis = w;
      const float* x0 = in[0];
      float* y0 = out[0];
      const size_t in_step = plane_in, out_step = plane_out;
      const int64_t by_kernel = kernel_end;
      const bool max = max_;
      const pp_f32_hpool_ukernel_fn fn = hpool_ != nullptr ? hpool_->fn : nullptr;
      for (size_t p = first; p < first + count; p++)
        for (size_t oy = begin; oy < end; oy++) {
          const float* plane = x0 + p * in_step;
          float* y = y0 + p * out_step + oy * static_cast<size_t>(cols_axis.out);
          if (max) {
            pool_row(fn, max_rows_, plane, row, y, rows_axis, cols_axis, by_kernel, static_cast<int64_t>(oy));
          } else {
            pool_row(fn, sum_rows_, plane, row, y, rows_axis, cols_axis, by_kernel, static_cast<int64_t>(oy));
            average(y, rows_axis, cols_axis, static_cast<int64_t>(oy), column_counts.data());
          }
        }
    }, static_cast<size_t>(w.out * h.kernel * w.kernel));
  }

  std::string describe() const override {
    std::string s = std::string(max_ ? "max_pool2d " : "avg_pool2d ") + std::to_string(kernel_[0]) + "x" +
                    std::to_string(kernel_[1]) + " s" + std::to_string(stride_[0]);
    if (stride_[1] != stride_[0]) s += "x" + std::to_string(stride_[1]);
    return s + (ceil_mode_ ? " ceil" : "");
  }

 private:
  // Planes padded (identity around them, as far as the last window reaches) and laid one after
  // the other: rows of `width` floats, `rows` of them per plane, `planes` planes per task.
  struct Stack {
    size_t width = 0, rows = 0, planes = 0;
  };
  // Narrow planes (padded rows up to kStackedWidth) stack where the row kernel takes the window
  // with the same stride down and across: its outputs along the stack as one long row, `rows` =
  // the window's height, are every window of every plane at once (and windows across the
  // planes' padding, dropped). Row by row a 7x7 plane is 7 kernel calls, each leaving its last
  // outputs to a scalar loop. Against that, 1 thread, Zen 3: 3x3 stride-1 avg pools at 7x7 and
  // 14x14 0.42x and 0.84x the time, SPPF's 5x5 max pools at 10x10 and 20x20 0.54x and 0.64x,
  // 3x3 stride 2 at 17x17 0.62x; rows 28 and more wide (30 padded) 1.1-2x. Otherwise planes = 0.
  Stack stacked(const Axis& h, const Axis& w) const {
    if (hpool_ == nullptr || h.stride != w.stride || h.dilation != 1) return {};
    const size_t stride = static_cast<size_t>(w.stride);
    const auto reach = [](const Axis& a) {
      return static_cast<size_t>(std::max(a.pad_begin + a.size + a.pad_end, (a.out - 1) * a.stride + a.kernel));
    };
    const size_t width = pp_round_up(reach(w), stride), rows = reach(h), plane = width * rows;
    if (width > kStackedWidth || plane > kStackFloats) return {};
    return {width, rows, kStackFloats / plane};
  }

  // The pool on stacks of planes (stacked): pad a stack, combine each column's window rows over
  // the whole stack, one elementwise pass per row (the row kernel's order: a window's columns
  // over its rows, then its taps), one row kernel call along them, then each output row out of
  // the kernel's, and an average's plane divided by its windows' counts in one loop. The row
  // kernel given the rows loads every tap of every row (25 loads per 8 outputs for 5x5): AVX-512,
  // 1 thread, whole calls, SPPF's 5x5 max pools at 10x10 and 20x20 2.0-2.2x faster this way,
  // 2x2 and 3x3 windows 1.1-1.3x.
  void run_stacked(const Stack& stack, const float* x, float* y, size_t planes, const Axis& h, const Axis& w,
                   const float* column_counts) const {
    const size_t plane = stack.width * stack.rows, stride = static_cast<size_t>(w.stride);
    const size_t in_w = static_cast<size_t>(w.size), in_plane = static_cast<size_t>(h.size) * in_w;
    const size_t out_w = static_cast<size_t>(w.out), out_plane = static_cast<size_t>(h.out) * out_w;
    const float none = max_ ? -std::numeric_limits<float>::infinity() : 0.0f;
    std::vector<float> divisors;
    if (!max_)
      for (int64_t oy = 0; oy < h.out; oy++)
        for (int64_t ox = 0; ox < w.out; ox++)
          divisors.push_back(divisor_ != 0 ? static_cast<float>(divisor_)
                                           : static_cast<float>(count(h, oy)) * column_counts[ox]);
    parallel_for(pp_divide_round_up(planes, stack.planes), [&](size_t t) {
      const size_t first = t * stack.planes, count = std::min(stack.planes, planes - first);
      thread_local AlignedBuffer buffer;
      buffer.reserve(3 * stack.planes * plane);
      float* padded = buffer.data();
      float* columns = padded + stack.planes * plane;
      float* pooled = columns + stack.planes * plane;
      std::fill(padded, padded + count * plane, none);
      for (size_t p = 0; p < count; p++)
        for (int64_t r = 0; r < h.size; r++)
          copy_row(x + (first + p) * in_plane + static_cast<size_t>(r) * in_w, in_w,
                   padded + p * plane + static_cast<size_t>(r + h.pad_begin) * stack.width +
                       static_cast<size_t>(w.pad_begin));
      // Output (p, oy, ox) is the kernel's output p plane / stride + oy width + ox.
      const size_t outputs = (count - 1) * plane / stride + static_cast<size_t>(h.out - 1) * stack.width + out_w;
      // The columns the kernel's outputs read, each over the window's rows below it.
      const size_t span = (outputs - 1) * stride + static_cast<size_t>(w.kernel);
      const float* row = padded;
      if (h.kernel > 1) {
        if (max_) {
          fold_rows(max_rows_, padded, span, stack.width, static_cast<size_t>(h.kernel), columns);
        } else {
          fold_rows(sum_rows_, padded, span, stack.width, static_cast<size_t>(h.kernel), columns);
        }
        row = columns;
      }
      hpool_->fn(outputs, 1, 0, row, 0, pooled);
      for (size_t p = 0; p < count; p++) {
        float* out = y + (first + p) * out_plane;
        for (size_t oy = 0; oy < static_cast<size_t>(h.out); oy++)
          copy_row(pooled + p * plane / stride + oy * stack.width, out_w, out + oy * out_w);
        if (!max_)
          for (size_t i = 0; i < out_plane; i++) out[i] /= divisors[i];
      }
    });
  }

  // columns[0, n) = Op over rows 0 .. rows - 1 of x (`width` floats apart), in row order.
  template <class Op>
  static void fold_rows(const RowFold<Op>& fold, const float* x, size_t n, size_t width, size_t rows, float* columns) {
    fold(n, x, x + width, columns);
    for (size_t r = 2; r < rows; r++) fold(n, columns, x + r * width);
  }

  Axis axis(const Dims& x, size_t i) const {
    const int64_t size = static_cast<int64_t>(x[x.size() - 2 + i]);
    const int64_t begin = padding_[i], end = padding_[i + 2];
    return {size, pooled_size(size, kernel_[i], stride_[i], dilation_[i], begin, end, ceil_mode_), kernel_[i],
            stride_[i], dilation_[i], begin, end};
  }

  // Outputs [0, end) of a row, those the row kernel takes: their windows (and its overread) end
  // inside the input row.
  static int64_t kernel_outputs(const Axis& w) {
    const int64_t reach = w.size + w.pad_begin - w.kernel - PP_HPOOL_OVERREAD;  // the last such window's start
    return reach < 0 ? 0 : std::min(w.out, reach / w.stride + 1);
  }

  // The input rows of output row oy's windows: `rows` of them from `first`, h.dilation apart.
  static std::pair<int64_t, int64_t> window_rows(const Axis& h, int64_t oy) {
    const int64_t start = h.start(oy);
    if (start >= 0 && start + h.extent() <= h.size) return {start, h.kernel};  // most rows: no divisions
    const int64_t skipped = start < 0 ? (h.dilation - 1 - start) / h.dilation : 0;
    const int64_t first = start + skipped * h.dilation;
    return {first, first < h.size ? std::min(h.kernel - skipped, (h.size - first + h.dilation - 1) / h.dilation) : 0};
  }

  // y = output row oy; fn: the row kernel (hpool_'s), if any; fold: Op's row fold; row: room for
  // a combined padded row.
  template <class Op>
  static void pool_row(pp_f32_hpool_ukernel_fn fn, const RowFold<Op>& fold, const float* plane, float* row, float* y,
                       const Axis& h, const Axis& w, int64_t kernel_end, int64_t oy) {
    if (fn == nullptr || kernel_end == 0) {
      combine_rows(fold, plane, row + w.pad_begin, h, static_cast<size_t>(w.size), oy);
      if (fn != nullptr) {
        fn(static_cast<size_t>(w.out), 1, 0, row, 0, y);  // the combined row is padded: no edges
      } else {
        pool_columns<Op>(row, y, w);
      }
      return;
    }
    const auto [first, rows] = window_rows(h, oy);
    const float* top = plane + std::min(first, h.size - 1) * w.size;
    const size_t stride = static_cast<size_t>(h.dilation * w.size);
    if (rows < 1) kernel_end = 0;
    if (kernel_end > 0)
      fn(static_cast<size_t>(kernel_end), static_cast<size_t>(rows), static_cast<size_t>(w.pad_begin), top,
         stride * sizeof(float), y);
    for (int64_t ox = kernel_end; ox < w.out; ox++) y[ox] = edge_output<Op>(top, static_cast<size_t>(rows), stride, w, ox);
  }

  // Output ox of a row as the row kernel computes it, padding as the identity: each tap's column
  // over the rows, then the taps in order: those inside the row, the padding's identity changing
  // no value (but a sum's zero sign, which torch's pools do not keep either).
  template <class Op>
  static float edge_output(const float* top, size_t rows, size_t stride, const Axis& w, int64_t ox) {
    const int64_t begin = std::max<int64_t>(w.start(ox), 0), end = std::min(w.start(ox) + w.kernel, w.size);
    if (rows == 0 || begin >= end) return identity<Op>();
    auto column = [&](int64_t c) {
      float acc = top[c];
      for (size_t r = 1; r < rows; r++) acc = Op::combine(acc, top[r * stride + c]);
      return acc;
    };
    float acc = column(begin);
    for (int64_t c = begin + 1; c < end; c++) acc = Op::combine(acc, column(c));
    return acc;
  }

  // row[0, size) = Op over the input rows of output row oy's windows (identity if none).
  template <class Op>
  static void combine_rows(const RowFold<Op>& fold, const float* plane, float* row, const Axis& h, size_t size,
                           int64_t oy) {
    bool first = true;
    for (int64_t i = 0, r = h.start(oy); i < h.kernel; i++, r += h.dilation) {
      if (r < 0 || r >= h.size) continue;
      const float* x = plane + r * static_cast<int64_t>(size);
      if (first) {
        std::copy(x, x + size, row);
      } else {
        fold(size, row, x);
      }
      first = false;
    }
    if (first) std::fill(row, row + size, identity<Op>());
  }

  // y[ox] = Op over the window of ox in the combined (padded) row.
  template <class Op>
  static void pool_columns(const float* row, float* y, const Axis& w) {
    for (int64_t ox = 0; ox < w.out; ox++) {
      const float* x = row + ox * w.stride;
      float acc = x[0];
      for (int64_t j = 1; j < w.kernel; j++) acc = Op::combine(acc, x[j * w.dilation]);
      y[ox] = acc;
    }
  }

  // Sums to averages: torch's divisor is the override, else the window clipped to the padded
  // input (count_include_pad) or to the input.
  // columns: each output column's window count (without a divisor). Plain loops of divisions
  // that the compiler vectorises.
  void average(float* y, const Axis& h, const Axis& w, int64_t oy, const float* columns) const {
    if (divisor_ != 0) {
      const float d = static_cast<float>(divisor_);
      for (int64_t ox = 0; ox < w.out; ox++) y[ox] /= d;
      return;
    }
    const float rows = static_cast<float>(count(h, oy));
    for (int64_t ox = 0; ox < w.out; ox++) y[ox] /= rows * columns[ox];
  }
  int64_t count(const Axis& a, int64_t o) const {
    const int64_t start = a.start(o), end = std::min(start + a.kernel, a.size + a.pad_end);
    if (count_include_pad_) return end - start;
    return std::min(end, a.size) - std::max<int64_t>(start, 0);
  }

  bool max_;
  std::vector<int64_t> kernel_, stride_, dilation_, padding_;
  const pp_f32_hpool_ukernel* hpool_;  // the kernel of the window's width and stride, if any
  const RowFold<MaxOf> max_rows_;      // folding a window's rows into one (looked up once)
  const RowFold<SumOf> sum_rows_;
  bool ceil_mode_ = false, count_include_pad_ = true;
  int64_t divisor_ = 0;
};

// adaptive_avg_pool2d and adaptive_max_pool2d: output o of a dim of n inputs and m outputs
// covers [floor(o * n / m), ceil((o + 1) * n / m)).
class AdaptivePool final : public Pool2d {
 public:
  AdaptivePool(const Attributes& attrs, bool max) : Pool2d(attrs), max_(max) {
    attrs.only({"output_size"});
    const std::vector<int64_t> size = attrs.integers("output_size", 2, 1, std::numeric_limits<int32_t>::max());
    out_h_ = static_cast<size_t>(size[0]);
    out_w_ = static_cast<size_t>(size[1]);
  }

  std::vector<Dims> output_shapes(const std::vector<Dims>& inputs) const override {
    expect_image(inputs);
    const Dims& x = inputs[0];
    if (x[x.size() - 2] == 0 || x[x.size() - 1] == 0)
      fail("input " + to_string(x) + " has an empty plane: adaptive pools need at least one element per window");
    const Dims y = with_plane(x, out_h_, out_w_);
    expect_size(y);
    // Window bounds are computed as o * n / m.
    sized([&] {
      checked_add(checked_mul(x[x.size() - 2], out_h_, "the input"), out_h_, "the input");
      return checked_add(checked_mul(x[x.size() - 1], out_w_, "the input"), out_w_, "the input");
    });
    return {y};
  }

  void run(const std::vector<const float*>& in, const std::vector<Dims>& in_shapes, const std::vector<float*>& out,
           const std::vector<Dims>&) const override {
    const Dims& x = in_shapes[0];
    const size_t h = x[x.size() - 2], w = x[x.size() - 1];
    if (out_w_ == 1 && h % out_h_ == 0) {  // pools of whole rows side by side (the global pool: of whole
      const size_t run = h / out_h_ * w;    // planes): contiguous runs
      pool_runs(in[0], planes(x) * out_h_, run, max_, static_cast<float>(run), out[0]);
      return;
    }
    parallel_rows(planes(x), out_h_, [&](size_t first, size_t count, size_t begin, size_t end) {
      thread_local AlignedBuffer folded;
      folded.reserve(w);
      for (size_t p = first; p < first + count; p++)
        for (size_t oy = begin; oy < end; oy++) {
          const float* plane = in[0] + p * h * w;
          pool_row(plane, out[0] + (p * out_h_ + oy) * out_w_, folded.data(), h, w, oy);
        }
    }, (h / out_h_ + 1) * (w + out_w_));
  }

  std::string describe() const override {
    return std::string(max_ ? "adaptive_max_pool2d " : "adaptive_avg_pool2d ") + std::to_string(out_h_) + "x" +
           std::to_string(out_w_);
  }

 private:
  static size_t window_begin(size_t o, size_t n, size_t m) { return o * n / m; }
  static size_t window_end(size_t o, size_t n, size_t m) { return ((o + 1) * n + m - 1) / m; }

  // y = output row oy; folded: room for a row of w floats.
  void pool_row(const float* plane, float* y, float* folded, size_t h, size_t w, size_t oy) const {
    const size_t r0 = window_begin(oy, h, out_h_), r1 = window_end(oy, h, out_h_);
    // One output per row of windows spans whole rows: one contiguous run (the global pool: the
    // whole plane). Narrower windows read the window's rows folded into one, so an output is one
    // short run (pooling to (1, W) would otherwise reduce every input on its own).
    const bool whole = out_w_ == 1;
    const float* row = plane + r0 * w;
    if (!whole && r1 - r0 > 1) {
      std::copy(row, row + w, folded);
      for (size_t r = r0 + 1; r < r1; r++) {  // plain loops: rows are short, a kernel call each would cost more
        const float* x = plane + r * w;
        if (max_) {
          for (size_t c = 0; c < w; c++) folded[c] = MaxOf::combine(folded[c], x[c]);
        } else {
          for (size_t c = 0; c < w; c++) folded[c] += x[c];
        }
      }
      row = folded;
    }
    for (size_t ox = 0; ox < out_w_; ox++) {
      const size_t c0 = window_begin(ox, w, out_w_), c1 = window_end(ox, w, out_w_);
      const size_t n = whole ? (r1 - r0) * w : c1 - c0;
      const float* x = row + c0;
      if (n == 1) {  // a column's window (pooling to (1, W)): its rows are folded already
        y[ox] = max_ ? x[0] : x[0] / static_cast<float>(r1 - r0);
      } else if (max_) {
        y[ox] = reduce_row<MaxOf>(x, n, identity<MaxOf>());
      } else {
        const double sum = n < kShortRun ? reduce_row<SumOf>(x, n, 0.0f) : sum_row(x, n);
        y[ox] = static_cast<float>(sum / static_cast<double>((r1 - r0) * (c1 - c0)));
      }
    }
  }

  static constexpr size_t kShortRun = 32;  // summed inline: the row-sum kernel's call costs more

  bool max_;
  size_t out_h_, out_w_;
};

}  // namespace

std::unique_ptr<Operator> make_max_pool2d(const Attributes& attrs, const std::vector<const Constant*>&) {
  return std::make_unique<WindowPool>(attrs, true);
}
std::unique_ptr<Operator> make_avg_pool2d(const Attributes& attrs, const std::vector<const Constant*>&) {
  return std::make_unique<WindowPool>(attrs, false);
}
std::unique_ptr<Operator> make_adaptive_avg_pool2d(const Attributes& attrs, const std::vector<const Constant*>&) {
  return std::make_unique<AdaptivePool>(attrs, false);
}
std::unique_ptr<Operator> make_adaptive_max_pool2d(const Attributes& attrs, const std::vector<const Constant*>&) {
  return std::make_unique<AdaptivePool>(attrs, true);
}

}  // namespace pyprune::graph
