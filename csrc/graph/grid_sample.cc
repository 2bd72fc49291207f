// grid_sample: F.grid_sample of x (N, C, H, W) at the points of a grid (N, Ho, Wo, 2), each an
// (x, y) pair in [-1, 1], in mode bilinear, nearest or bicubic with padding zeros, border or
// reflection, with or without align_corners: torch's grid_sampler_2d in its CPU kernel's float
// arithmetic. A point's taps (where it reads, with what weight) depend on the grid only, so they
// are computed once per point and used for every channel.
#include <algorithm>
#include <cmath>
#include <string>

#include "cubic.h"
#include "node_operator.h"
#include "parallel_rows.h"
#include "pyprune/graph/factories.h"
#include "pyprune/shape.h"

namespace pyprune::graph {
namespace {

enum class SampleMode { bilinear, nearest, bicubic };
enum class SamplePadding { zeros, border, reflection };

// Maps a grid coordinate to a source coordinate along one dim of `size` inputs.
class SampleAxis {
 public:
  SampleAxis(size_t size, bool align_corners, SamplePadding padding)
      : last_(static_cast<float>(size - 1)),
        scale_(align_corners ? static_cast<float>(size - 1) / 2 : static_cast<float>(size) / 2),
        shift_(align_corners ? 0.0f : 0.5f),
        low_(align_corners ? 0.0f : -0.5f),
        twice_span_(align_corners ? 2.0f * static_cast<float>(size - 1) : 2.0f * static_cast<float>(size)),
        padding_(padding) {}

  // grid_sampler_unnormalize: -1 and 1 are the first and last pixels' centres (align_corners)
  // or outer edges.
  float unnormalize(float g) const { return (g + 1.0f) * scale_ - shift_; }

  // The coordinate a padding mode reads for source coordinate v (zeros: v itself).
  float pad(float v) const {
    if (padding_ == SamplePadding::zeros) return v;
    if (padding_ == SamplePadding::reflection) v = reflect(v);
    return std::min(last_, std::max(v, 0.0f));
  }

  // Whether integer coordinate i (a float holding an integer) is inside the input.
  bool inside(float i) const { return i >= 0.0f && i <= last_; }

 private:
  // Reflected about the borders (the pixels' centres with align_corners, else their outer edges)
  // as often as it takes to land inside.
  float reflect(float v) const {
    if (twice_span_ <= 0.0f) return 0.0f;
    const float from_low = std::fabs(v - low_);
    const float extra = from_low - std::trunc(from_low / twice_span_) * twice_span_;
    return std::min(extra, twice_span_ - extra) + low_;
  }

  float last_, scale_, shift_, low_, twice_span_;
  SamplePadding padding_;
};

// Where one point reads along one dim: kTaps input indices, whether each is inside the input,
// and their weights.
template <size_t kTaps>
struct AxisTaps {
  size_t at[kTaps];
  bool inside[kTaps];
  float weight[kTaps];
};

template <size_t kTaps>
struct PointTaps {
  AxisTaps<kTaps> y, x;
};

// The taps along one dim of grid coordinate g. Bilinear and nearest pad the sampled coordinate;
// bicubic pads each of its four inputs' coordinates (torch's get_value_bounded).
template <SampleMode kMode, size_t kTaps>
void axis_taps(const SampleAxis& axis, float g, AxisTaps<kTaps>& t) {
  const float source = axis.unnormalize(g);
  float at[kTaps];
  if constexpr (kMode == SampleMode::nearest) {
    at[0] = std::nearbyint(axis.pad(source));  // half to even, as torch rounds
    t.weight[0] = 1.0f;
  } else if constexpr (kMode == SampleMode::bilinear) {
    const float v = axis.pad(source), first = std::floor(v), fraction = v - first;
    at[0] = first;
    at[1] = first + 1.0f;
    t.weight[0] = 1.0f - fraction;
    t.weight[1] = fraction;
  } else {
    const float first = std::floor(source);
    cubic_weights(source - first, t.weight);
    for (size_t j = 0; j < 4; j++) at[j] = axis.pad(first - 1.0f + static_cast<float>(j));
  }
  for (size_t j = 0; j < kTaps; j++) {
    // Non-finite and far-off coordinates fail the test and read nothing.
    t.inside[j] = axis.inside(at[j]);
    t.at[j] = t.inside[j] ? static_cast<size_t>(at[j]) : 0;
  }
}

// One output of a plane from a point's taps; a tap outside the input reads 0.
template <SampleMode kMode, size_t kTaps>
float sample(const float* plane, size_t width, const PointTaps<kTaps>& p) {
  const auto value = [&](size_t i, size_t j) {
    return p.y.inside[i] && p.x.inside[j] ? plane[p.y.at[i] * width + p.x.at[j]] : 0.0f;
  };
  if constexpr (kMode == SampleMode::nearest) {
    return value(0, 0);
  } else if constexpr (kMode == SampleMode::bilinear) {
    // torch's order: each corner's weight is the product of its two axes' weights
    float sum = value(0, 0) * (p.y.weight[0] * p.x.weight[0]);
    sum += value(0, 1) * (p.y.weight[0] * p.x.weight[1]);
    sum += value(1, 0) * (p.y.weight[1] * p.x.weight[0]);
    return sum + value(1, 1) * (p.y.weight[1] * p.x.weight[1]);
  } else {
    // torch's order: each row interpolated along x, then the rows along y
    float sum = 0.0f;
    for (size_t i = 0; i < 4; i++) {
      float row = value(i, 0) * p.x.weight[0];
      for (size_t j = 1; j < 4; j++) row += value(i, j) * p.x.weight[j];
      sum = i == 0 ? row * p.y.weight[0] : sum + row * p.y.weight[i];
    }
    return sum;
  }
}

class GridSample final : public NodeOperator {
 public:
  explicit GridSample(const Attributes& attrs) : NodeOperator(attrs) {
    attrs.only({"mode", "padding", "align_corners"});
    mode_ = static_cast<SampleMode>(index_of(attrs.text("mode", mode_names(), "bilinear"), mode_names()));
    padding_ = static_cast<SamplePadding>(index_of(attrs.text("padding", padding_names(), "zeros"), padding_names()));
    align_corners_ = attrs.integer("align_corners", 0, 1, 0) != 0;
  }

  std::vector<Dims> output_shapes(const std::vector<Dims>& inputs) const override {
    expect_inputs(inputs, 2, 2);
    const Dims &x = inputs[0], &grid = inputs[1];
    if (x.size() != 4) fail("input must be (N, C, H, W), got " + to_string(x));
    if (grid.size() != 4 || grid[0] != x[0] || grid[3] != 2)
      fail("grid must be (N, H_out, W_out, 2) with the input's N = " + std::to_string(x[0]) + ", got " +
           to_string(grid));
    if (x[2] == 0 || x[3] == 0) fail("input " + to_string(x) + " has empty planes: there is nothing to sample");
    const Dims y = {x[0], x[1], grid[1], grid[2]};
    expect_size(y);
    return {y};
  }

  void run(const std::vector<const float*>& in, const std::vector<Dims>& in_shapes, const std::vector<float*>& out,
           const std::vector<Dims>& out_shapes) const override {
    switch (mode_) {
      case SampleMode::bilinear: return sample_all<SampleMode::bilinear, 2>(in, in_shapes[0], out[0], out_shapes[0]);
      case SampleMode::nearest: return sample_all<SampleMode::nearest, 1>(in, in_shapes[0], out[0], out_shapes[0]);
      case SampleMode::bicubic: return sample_all<SampleMode::bicubic, 4>(in, in_shapes[0], out[0], out_shapes[0]);
    }
  }

  std::string describe() const override {
    return "grid_sample " + mode_names()[static_cast<size_t>(mode_)] + ", padding " +
           padding_names()[static_cast<size_t>(padding_)] + (align_corners_ ? ", align_corners" : "");
  }

 private:
  static const std::vector<std::string>& mode_names() {
    static const std::vector<std::string> names = {"bilinear", "nearest", "bicubic"};
    return names;
  }
  static const std::vector<std::string>& padding_names() {
    static const std::vector<std::string> names = {"zeros", "border", "reflection"};
    return names;
  }
  static size_t index_of(const std::string& name, const std::vector<std::string>& names) {
    return static_cast<size_t>(std::find(names.begin(), names.end(), name) - names.begin());
  }

  template <SampleMode kMode, size_t kTaps>
  void sample_all(const std::vector<const float*>& in, const Dims& x, float* output, const Dims& y) const {
    const size_t channels = x[1], height = x[2], width = x[3], out_h = y[2], out_w = y[3];
    const SampleAxis along_y(height, align_corners_, padding_), along_x(width, align_corners_, padding_);
    // Points in groups small enough for their taps to stay in L1 while every channel reads them.
    constexpr size_t kGroup = 64;
    parallel_rows(x[0] * out_h, out_w, [&](size_t first, size_t count, size_t begin, size_t end) {
      PointTaps<kTaps> taps[kGroup];
      for (size_t r = first; r < first + count; r++) {
        const size_t n = r / out_h, oy = r % out_h;
        const float* grid = in[1] + r * out_w * 2;
        for (size_t from = begin; from < end; from += kGroup) {
          const size_t points = std::min(kGroup, end - from);
          for (size_t p = 0; p < points; p++) {
            axis_taps<kMode>(along_x, grid[2 * (from + p)], taps[p].x);
            axis_taps<kMode>(along_y, grid[2 * (from + p) + 1], taps[p].y);
          }
          for (size_t c = 0; c < channels; c++) {
            const float* plane = in[0] + (n * channels + c) * height * width;
            float* row = output + ((n * channels + c) * out_h + oy) * out_w + from;
            for (size_t p = 0; p < points; p++) row[p] = sample<kMode>(plane, width, taps[p]);
          }
        }
      }
    }, channels * kTaps * kTaps + 4);
  }

  SampleMode mode_;
  SamplePadding padding_;
  bool align_corners_;
};

}  // namespace

std::unique_ptr<Operator> make_grid_sample(const Attributes& attrs, const std::vector<const Constant*>&) {
  return std::make_unique<GridSample>(attrs);
}

}  // namespace pyprune::graph
