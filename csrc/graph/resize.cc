// upsample: F.interpolate of (N, C, H, W) in mode nearest, nearest-exact, bilinear or bicubic
// (align_corners or not for the last two), to a `size`, to the size of a second input's last two
// dims (`size_like`: F.interpolate(x, size=y.shape[-2:]) at any size), or by a `scale`, with
// torch's arithmetic:
// a scale gives the output size floor(in * scale) and, unless align_corners, the source
// coordinate dst / scale (float); a size gives the source coordinate dst * in / out. Source
// indices and weights are computed once per run and per dim; rows repeating the previous one
// (nearest) are copied, and a row whose columns repeat each input a whole number of times is
// written by a plain repeat; an input row's interpolation across is computed once for the
// output rows that read it. Nearest takes torch's shortcuts: the same size copies, twice the size
// repeats each input (whatever the scale says); nearest-exact reads the input under each output
// pixel's centre. Bicubic is Keys' cubic convolution with torch's A = -0.75 over the four
// nearest inputs, clamped into the image at its borders.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>

#include "cubic.h"
#include "node_operator.h"
#include "parallel_rows.h"
#include "pyprune/graph/factories.h"
#include "pyprune/shape.h"

namespace pyprune::graph {
namespace {

enum class Interpolation { nearest, nearest_exact, bilinear, bicubic };

// Where output index o of one dim reads: the first support() rows/columns of `at`, with `weight`
// (nearest: at[0] only).
struct Tap {
  size_t at[4];
  float weight[4];
};

class Upsample final : public NodeOperator {
 public:
  explicit Upsample(const Attributes& attrs) : NodeOperator(attrs) {
    attrs.only({"mode", "size", "scale", "size_like", "align_corners"});
    const std::string mode = attrs.text("mode", mode_names());
    for (size_t i = 0; i < mode_names().size(); i++)
      if (mode_names()[i] == mode) mode_ = static_cast<Interpolation>(i);
    size_like_ = attrs.integer("size_like", 0, 1, 0) != 0;
    if (attrs.has("size") + attrs.has("scale") + size_like_ != 1)
      attrs.fail("takes exactly one of the attributes 'size', 'scale' and 'size_like'");
    if (attrs.has("size")) {
      for (int64_t s : attrs.integers("size", 2, 1, std::numeric_limits<int32_t>::max()))
        size_.push_back(static_cast<size_t>(s));
    } else if (!size_like_) {
      scale_ = attrs.real_list("scale", 2, std::numeric_limits<double>::min(), 1 << 20);
    }
    if (support() == 1 && attrs.has("align_corners"))
      attrs.fail("attribute 'align_corners' applies only to modes 'bilinear' and 'bicubic', not '" + mode + "'");
    align_corners_ = attrs.integer("align_corners", 0, 1, 0) != 0;
  }

  std::vector<Dims> output_shapes(const std::vector<Dims>& inputs) const override {
    expect_inputs(inputs, size_like_ ? 2 : 1, size_like_ ? 2 : 1);
    const Dims& x = inputs[0];
    if (x.size() != 4) fail("input must be (N, C, H, W), got " + to_string(x));
    if (size_like_ && inputs[1].size() < 2) fail("input 1 (whose last two dims are the size) has rank " +
                                                 std::to_string(inputs[1].size()) + ", less than 2");
    Dims y = x;
    for (size_t i = 0; i < 2; i++) {
      y[2 + i] = size_like_ ? inputs[1][inputs[1].size() - 2 + i] : out_size(x[2 + i], i);
      if (y[2 + i] == 0 || x[2 + i] == 0)
        fail("input " + to_string(x) + " gives an empty output (" + std::to_string(y[2 + i]) + " along dim " +
             std::to_string(2 + i) + ")");
    }
    expect_size(y);
    return {y};
  }

  void run(const std::vector<const float*>& in, const std::vector<Dims>& in_shapes, const std::vector<float*>& out,
           const std::vector<Dims>& out_shapes) const override {
    const Dims& x = in_shapes[0];
    const Dims& y = out_shapes[0];
    const size_t ih = x[2], iw = x[3], oh = y[2], ow = y[3];
    // The calling thread's scratch, only growing. The tasks, on other threads too, read it
    // through these references (a thread_local named in a task would be the task thread's own).
    thread_local std::vector<Tap> row_scratch, column_scratch;
    std::vector<Tap>& rows = row_scratch;
    std::vector<Tap>& cols = column_scratch;
    taps(ih, oh, 0, rows);
    taps(iw, ow, 1, cols);
    const size_t factor = repeats(cols, iw);
    parallel_rows(x[0] * x[1], oh, [&](size_t first, size_t count, size_t begin, size_t end) {
      for (size_t p = first; p < first + count; p++) {
        const float* plane = in[0] + p * ih * iw;
        float* target = out[0] + p * oh * ow;
        if (support() == 2) {
          interpolate_rows<2>(plane, iw, rows.data(), begin, end, cols, target);
        } else if (support() == 4) {
          interpolate_rows<4>(plane, iw, rows.data(), begin, end, cols, target);
        } else {
          for (size_t oy = begin; oy < end; oy++) {
            float* row = target + oy * ow;
            if (oy > begin && rows[oy].at[0] == rows[oy - 1].at[0]) {
              std::memcpy(row, row - ow, ow * sizeof(float));
            } else {
              if (factor != 0) {
                repeat_row(plane + rows[oy].at[0] * iw, iw, factor, row);
              } else {
                nearest_row(plane + rows[oy].at[0] * iw, cols, row);
              }
            }
          }
        }
      }
    }, ow * support());
  }

  std::string describe() const override {
    std::string s = "upsample " + mode_names()[static_cast<size_t>(mode_)];
    if (align_corners_) s += " align_corners";
    if (!scale_.empty()) return s + " x" + std::to_string(scale_[0]) + ", x" + std::to_string(scale_[1]);
    if (size_like_) return s + " to input 1's size";
    return s + " to " + std::to_string(size_[0]) + "x" + std::to_string(size_[1]);
  }

 private:
  static const std::vector<std::string>& mode_names() {
    static const std::vector<std::string> names = {"nearest", "nearest_exact", "bilinear", "bicubic"};
    return names;
  }

  // Inputs read per output along each dim.
  size_t support() const { return mode_ == Interpolation::bicubic ? 4 : mode_ == Interpolation::bilinear ? 2 : 1; }

  size_t out_size(size_t in, size_t dim) const {
    if (!size_.empty()) return size_[dim];
    const double out = std::floor(static_cast<double>(in) * scale_[dim]);
    if (!(out < 9.0e18)) throw std::length_error(node() + ": the output is too large");
    return static_cast<size_t>(out);
  }

  // torch's area_pixel_compute_scale: source units per output unit.
  float ratio(size_t in, size_t out, size_t dim) const {
    if (align_corners_) return out > 1 ? static_cast<float>(in - 1) / static_cast<float>(out - 1) : 0.0f;
    if (!scale_.empty()) return static_cast<float>(1.0 / scale_[dim]);
    return static_cast<float>(in) / static_cast<float>(out);
  }

  // The taps of every output index of a dim of `in` inputs and `out` outputs, as torch's
  // upsample kernels compute them (in float).
  void taps(size_t in, size_t out, size_t dim, std::vector<Tap>& t) const {
    const float r = ratio(in, out, dim);
    t.resize(out);
    for (size_t o = 0; o < out; o++) {
      const float at = static_cast<float>(o);
      if (mode_ == Interpolation::nearest_exact) {
        // torch's nearest_neighbor_exact_compute_source_index: the centre in double, floored in float.
        const float centre = static_cast<float>((static_cast<double>(o) + 0.5) * static_cast<double>(r));
        const size_t i = std::min(static_cast<size_t>(std::floor(centre)), in - 1);
        t[o] = {{i}, {1.0f}};
      } else if (mode_ == Interpolation::nearest) {
        // torch's nearest_idx: exact for the same size and for twice the size, whatever the scale.
        const size_t i = out == in ? o : out == 2 * in ? o / 2 : std::min(static_cast<size_t>(std::floor(r * at)), in - 1);
        t[o] = {{i}, {1.0f}};
      } else if (mode_ == Interpolation::bilinear) {
        if (in == out) {
          t[o] = {{o, o}, {1.0f, 0.0f}};
          continue;
        }
        float source = align_corners_ ? r * at : r * (at + 0.5f) - 0.5f;
        if (source < 0.0f) source = 0.0f;
        const size_t i0 = std::min(static_cast<size_t>(std::floor(source)), in - 1);
        const float w1 = std::min(std::max(source - static_cast<float>(i0), 0.0f), 1.0f);
        t[o] = {{i0, i0 + (i0 < in - 1 ? 1 : 0)}, {1.0f - w1, w1}};
      } else {
        // Bicubic: the source coordinate is not clamped at 0 (it may lie before the first input);
        // the four inputs from the one before it are, into [0, in).
        const float source = align_corners_ ? r * at : r * (at + 0.5f) - 0.5f;
        const int64_t last = static_cast<int64_t>(in) - 1;
        const int64_t i = std::min(static_cast<int64_t>(std::floor(source)), last);
        cubic_weights(std::min(std::max(source - static_cast<float>(i), 0.0f), 1.0f), t[o].weight);
        for (int64_t j = 0; j < 4; j++) t[o].at[j] = static_cast<size_t>(std::clamp<int64_t>(i + j - 1, 0, last));
      }
    }
  }

  static void nearest_row(const float* x, const std::vector<Tap>& cols, float* y) {
    for (size_t o = 0; o < cols.size(); o++) y[o] = x[cols[o].at[0]];
  }

  // f when the nearest columns repeat each of the `width` inputs f times in order (an integer
  // upscale: YOLO's and FPNs' x2), else 0.
  static size_t repeats(const std::vector<Tap>& cols, size_t width) {
    if (width == 0 || cols.size() % width != 0) return 0;
    const size_t f = cols.size() / width;
    for (size_t o = 0; o < cols.size(); o++)
      if (cols[o].at[0] != o / f) return 0;
    return f;
  }

  // y = x's `width` columns each repeated `factor` times: for 2, plain loops the compiler
  // vectorises (unpack), where the gather through the taps costs several instructions per output.
  static void repeat_row(const float* x, size_t width, size_t factor, float* y) {
    if (factor == 2) {
      for (size_t i = 0; i < width; i++) {
        y[2 * i] = x[i];
        y[2 * i + 1] = x[i];
      }
      return;
    }
    for (size_t i = 0; i < width; i++, y += factor) std::fill(y, y + factor, x[i]);
  }

  // Output rows [begin, end) of a plane. Each output is the weighted sum, over the row taps, of
  // each tapped row's weighted sum over the column taps (torch's order of operations). An input
  // row's sums across are computed once and kept while consecutive output rows read it (an
  // upsampling by 8 reads each 16 times), so an output row costs kTaps products per output.
  template <size_t kTaps>
  static void interpolate_rows(const float* plane, size_t width, const Tap* rows, size_t begin, size_t end,
                               const std::vector<Tap>& cols, float* target) {
    const size_t ow = cols.size();
    thread_local std::vector<float> scratch;  // the task thread's own
    scratch.resize(kTaps * ow);
    size_t held[kTaps];  // the input row each slot of `scratch` holds across
    std::fill(held, held + kTaps, std::numeric_limits<size_t>::max());
    for (size_t oy = begin; oy < end; oy++) {
      const Tap& row = rows[oy];
      const float* across[kTaps];
      for (size_t j = 0; j < kTaps; j++) {
        const size_t* slot = std::find(held, held + kTaps, row.at[j]);
        if (slot == held + kTaps) {
          // Reuse a slot this output row does not read (taps are at most kTaps distinct rows).
          slot = std::find_if(held, held + kTaps,
                              [&](size_t h) { return std::find(row.at, row.at + kTaps, h) == row.at + kTaps; });
          const size_t s = static_cast<size_t>(slot - held);
          held[s] = row.at[j];
          interpolate_across<kTaps>(plane + row.at[j] * width, cols, scratch.data() + s * ow);
        }
        across[j] = scratch.data() + static_cast<size_t>(slot - held) * ow;
      }
      float* y = target + oy * ow;
      for (size_t o = 0; o < ow; o++) y[o] = across[0][o] * row.weight[0];
      for (size_t j = 1; j < kTaps; j++)
        for (size_t o = 0; o < ow; o++) y[o] += across[j][o] * row.weight[j];
    }
  }

  template <size_t kTaps>
  static void interpolate_across(const float* x, const std::vector<Tap>& cols, float* y) {
    for (size_t o = 0; o < cols.size(); o++) {
      const Tap& c = cols[o];
      float sum = x[c.at[0]] * c.weight[0];
      for (size_t k = 1; k < kTaps; k++) sum += x[c.at[k]] * c.weight[k];
      y[o] = sum;
    }
  }

  Interpolation mode_ = Interpolation::nearest;
  bool align_corners_ = false;
  std::vector<size_t> size_;
  std::vector<double> scale_;
  bool size_like_ = false;
};

}  // namespace

std::unique_ptr<Operator> make_upsample(const Attributes& attrs, const std::vector<const Constant*>&) {
  return std::make_unique<Upsample>(attrs);
}

}  // namespace pyprune::graph
