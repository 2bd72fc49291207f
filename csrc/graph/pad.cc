// pad: F.pad with `pads` = [begin_0, end_0, begin_1, end_1, ...] in dim order (the lowering turns
// torch's last-dim-first list around), mode constant (with `value`; negative pads crop),
// reflect (pads below the dim's size) or replicate. Each output row reads one input row (or is
// all `value`): its middle is one copy, its edges follow the mode.
#include <algorithm>
#include <cstring>
#include <limits>

#include "node_operator.h"
#include "parallel_rows.h"
#include "pyprune/graph/factories.h"
#include "pyprune/shape.h"
#include "strided.h"

namespace pyprune::graph {
namespace {

enum class Mode { constant, reflect, replicate };

// Rows (the last dim) narrower than this are padded by spreading (Pad::spread).
constexpr size_t kNarrowRow = 16;

class Pad final : public NodeOperator {
 public:
  explicit Pad(const Attributes& attrs) : NodeOperator(attrs) {
    attrs.only({"pads", "mode", "value"});
    const std::string mode = attrs.text("mode", {"constant", "reflect", "replicate"}, "constant");
    mode_ = mode == "constant" ? Mode::constant : mode == "reflect" ? Mode::reflect : Mode::replicate;
    constexpr int64_t big = int64_t{1} << 40;
    pads_ = attrs.integer_list("pads", 0, 2 * kMaxRank, mode_ == Mode::constant ? -big : 0, big);
    if (pads_.size() % 2 != 0) attrs.fail("attribute 'pads' must have two entries (begin, end) per dim");
    if (mode_ != Mode::constant && attrs.has("value")) attrs.fail("attribute 'value' applies only to mode 'constant'");
    // Infinities are values too (-inf pads in front of a max pool).
    const double inf = std::numeric_limits<double>::infinity();
    value_ = static_cast<float>(attrs.real("value", -inf, inf, 0.0));
  }

  std::vector<Dims> output_shapes(const std::vector<Dims>& inputs) const override {
    expect_inputs(inputs, 1, 1);
    const Dims& x = inputs[0];
    if (pads_.size() != 2 * x.size())
      fail("attribute 'pads' has " + std::to_string(pads_.size()) + " entries but the input " + to_string(x) +
           " needs " + std::to_string(2 * x.size()) + " (begin, end per dim)");
    Dims y(x.size());
    for (size_t d = 0; d < x.size(); d++) {
      const int64_t n = static_cast<int64_t>(x[d]), begin = pads_[2 * d], end = pads_[2 * d + 1];
      if (mode_ == Mode::reflect && (begin >= n || end >= n))
        fail("reflect padding (" + std::to_string(begin) + ", " + std::to_string(end) + ") of dim " +
             std::to_string(d) + " must be below its size " + std::to_string(n));
      if (mode_ == Mode::replicate && n == 0 && begin + end > 0)
        fail("cannot replicate-pad the empty dim " + std::to_string(d) + " of " + to_string(x));
      const int64_t size = n + begin + end;
      if (size < 0)
        fail("attribute 'pads' crops dim " + std::to_string(d) + " of " + to_string(x) + " below size 0");
      y[d] = static_cast<size_t>(size);
    }
    expect_size(y);
    return {y};
  }

  void run(const std::vector<const float*>& in, const std::vector<Dims>& in_shapes, const std::vector<float*>& out,
           const std::vector<Dims>& out_shapes) const override {
    const Dims& x = in_shapes[0];
    const Dims& y = out_shapes[0];
    if (elements(y) == 0) return;
    if (y.empty()) {
      out[0][0] = in[0][0];
      return;
    }
    const size_t rank = y.size(), width = y[rank - 1], rows = elements(y) / width;
    if (mode_ == Mode::constant && x[rank - 1] < kNarrowRow &&
        std::all_of(pads_.begin(), pads_.end(), [](int64_t p) { return p >= 0; })) {
      spread(in[0], x, out[0], y);
      return;
    }
    parallel_rows(rows, width, [&](size_t first, size_t count, size_t begin, size_t end) {
      for (size_t r = first; r < first + count; r++) {
        // The input row of output row r: its index along every outer dim, or none.
        ptrdiff_t offset = 0, stride = static_cast<ptrdiff_t>(x[rank - 1]);
        bool inside = true;
        for (size_t d = rank - 1, rest = r; d-- > 0;) {
          const ptrdiff_t i = source(static_cast<ptrdiff_t>(rest % y[d]), d, x[d]);
          rest /= y[d];
          inside = inside && i >= 0;
          offset += i * stride;
          stride *= static_cast<ptrdiff_t>(x[d]);
        }
        float* row = out[0] + r * width;
        if (!inside) {
          std::fill(row + begin, row + end, value_);
        } else {
          fill_row(in[0] + offset, x[rank - 1], rank - 1, row, begin, end);
        }
      }
    });
  }

  std::string describe() const override {
    return std::string("pad ") + (mode_ == Mode::constant ? "constant" : mode_ == Mode::reflect ? "reflect" : "replicate");
  }

 private:
  // Constant padding of narrow rows (F.fold's offsets spread over a grid lower to rows of 1 and
  // 2): the output filled with the value, then the input copied to its place as strided rows.
  // Row by row, each short row cost an index computation of its own: 6 ns per element.
  void spread(const float* x, const Dims& x_shape, float* y, const Dims& y_shape) const {
    const size_t rank = y_shape.size(), width = y_shape[rank - 1];
    parallel_rows(elements(y_shape) / width, width, [&](size_t first, size_t count, size_t begin, size_t end) {
      for (size_t r = first; r < first + count; r++) std::fill(y + r * width + begin, y + r * width + end, value_);
    });
    std::array<ptrdiff_t, kMaxRank> into{};
    ptrdiff_t stride = 1, offset = 0;
    for (size_t d = rank; d-- > 0;) {
      into[d] = stride;
      offset += static_cast<ptrdiff_t>(pads_[2 * d]) * stride;
      stride *= static_cast<ptrdiff_t>(y_shape[d]);
    }
    const StridedLoop<2> loop(x_shape, {broadcast_strides(x_shape, x_shape), into});
    if (loop.empty()) return;
    const ptrdiff_t from_step = loop.inner_stride(0), to_step = loop.inner_stride(1);
    float* const y0 = y + offset;
    parallel_rows(loop.rows(), loop.inner(), [&](size_t first, size_t count, size_t begin, size_t end) {
      loop.for_rows(first, count, [&](const StridedLoop<2>::Offsets& o) {
        for (size_t i = begin; i < end; i++)
          y0[o[1] + static_cast<ptrdiff_t>(i) * to_step] = x[o[0] + static_cast<ptrdiff_t>(i) * from_step];
      });
    });
  }

  // The input index output index o of dim d reads (size n), or -1 for the constant.
  ptrdiff_t source(ptrdiff_t o, size_t d, size_t n) const {
    const ptrdiff_t size = static_cast<ptrdiff_t>(n), i = o - pads_[2 * d];
    if (i >= 0 && i < size) return i;
    switch (mode_) {
      case Mode::constant: return -1;
      case Mode::reflect: return i < 0 ? -i : 2 * (size - 1) - i;
      case Mode::replicate: return i < 0 ? 0 : size - 1;
    }
    return -1;
  }

  // Elements [begin, end) of an output row of the last dim from input row x of n elements.
  void fill_row(const float* x, size_t n, size_t d, float* row, size_t begin, size_t end) const {
    const ptrdiff_t pad = pads_[2 * d];
    // Outputs [lo, hi) read x[o - pad] directly.
    const size_t lo = std::clamp<ptrdiff_t>(pad, begin, end);
    const size_t hi = std::clamp<ptrdiff_t>(pad + static_cast<ptrdiff_t>(n), lo, end);
    if (hi > lo) std::memcpy(row + lo, x + (static_cast<ptrdiff_t>(lo) - pad), (hi - lo) * sizeof(float));
    for (size_t o = begin; o < lo; o++) edge(x, n, d, row, o);
    for (size_t o = hi; o < end; o++) edge(x, n, d, row, o);
  }

  void edge(const float* x, size_t n, size_t d, float* row, size_t o) const {
    const ptrdiff_t i = source(static_cast<ptrdiff_t>(o), d, n);
    row[o] = i < 0 ? value_ : x[i];
  }

  Mode mode_;
  std::vector<int64_t> pads_;
  float value_;
};

}  // namespace

std::unique_ptr<Operator> make_pad(const Attributes& attrs, const std::vector<const Constant*>&) {
  return std::make_unique<Pad>(attrs);
}

}  // namespace pyprune::graph
