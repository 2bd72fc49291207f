// pixel_grid: affine functions of the pixel coordinates of feature maps, concatenated: a
// detector's anchor points and strides, which it computes from its maps' sizes
// (torch.arange over each map's width and height). Inputs: the maps, only their last two dims
// (h_i, w_i) read. The output has the `shape` attribute's shape with its -1 entry the pixels of
// all maps, map 1's row-major (p = y * w + x), then map 2's, ...; or, of one map, its -2 and -3
// entries, adjacent, its height and width (YOLOv5's (1, anchors, h, w, 2) grid). Along the
// other dims (rows r, row-major), the value at map i's pixel (x, y) is a * x + b * y + c,
// (a, b, c) entries 3 (r k + i) .. 3 (r k + i) + 2 of `coefficients`, k maps.
#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>

#include "pyprune/graph/factories.h"
#include "pyprune/shape.h"

namespace pyprune::graph {
namespace {

constexpr int64_t kPixels = -1, kHeight = -2, kWidth = -3;

class PixelGrid final : public Operator {
 public:
  // axis: where the pixels are (the height's entry for a map of two dims).
  PixelGrid(std::vector<int64_t> shape, std::vector<double> coefficients, size_t maps, size_t axis)
      : shape_(std::move(shape)), coefficients_(std::move(coefficients)), maps_(maps), axis_(axis) {}

  std::vector<Dims> output_shapes(const std::vector<Dims>& inputs) const override {
    if (inputs.size() != maps_)
      throw std::invalid_argument("pixel_grid takes " + std::to_string(maps_) + " maps, got " +
                                  std::to_string(inputs.size()));
    size_t pixels = 0;
    for (size_t i = 0; i < maps_; i++) {
      const Dims& m = inputs[i];
      if (m.size() < 2)
        throw std::invalid_argument("map " + std::to_string(i) + " must have rank >= 2, got shape " + to_string(m));
      pixels = checked_add(pixels, checked_mul(m[m.size() - 2], m[m.size() - 1], "the grid"), "the grid");
    }
    const Dims& map = inputs[0];  // the one map of a grid of two dims
    Dims out;
    for (int64_t e : shape_) {
      out.push_back(e == kPixels ? pixels
                    : e == kHeight ? map[map.size() - 2]
                    : e == kWidth  ? map[map.size() - 1]
                                   : static_cast<size_t>(e));
    }
    elements(out);  // overflow check
    return {out};
  }

  void run(const std::vector<const float*>&, const std::vector<Dims>& input_shapes, const std::vector<float*>& outputs,
           const std::vector<Dims>& output_shapes) const override {
    const Dims& y = output_shapes[0];
    const size_t span = shape_[axis_] == kHeight ? 2 : 1;  // the dims the pixels take
    size_t outer = 1, inner = 1, pixels = 1;
    for (size_t d = 0; d < y.size(); d++) (d < axis_ ? outer : d < axis_ + span ? pixels : inner) *= y[d];
    float* out = outputs[0];
    for (size_t o = 0; o < outer; o++) {
      for (size_t q = 0; q < inner; q++) {
        const size_t row = o * inner + q;
        size_t p = 0;
        for (size_t i = 0; i < maps_; i++) {
          const Dims& m = input_shapes[i];
          const size_t h = m[m.size() - 2], w = m[m.size() - 1];
          const double* abc = &coefficients_[(row * maps_ + i) * 3];
          for (size_t yy = 0; yy < h; yy++)
            for (size_t xx = 0; xx < w; xx++, p++)
              out[(o * pixels + p) * inner + q] =
                  static_cast<float>(abc[0] * static_cast<double>(xx) + abc[1] * static_cast<double>(yy) + abc[2]);
        }
      }
    }
  }

  std::string describe() const override { return "pixel_grid of " + std::to_string(maps_) + " maps"; }

 private:
  std::vector<int64_t> shape_;
  std::vector<double> coefficients_;
  size_t maps_, axis_;
};

}  // namespace

std::unique_ptr<Operator> make_pixel_grid(const Attributes& attrs, const std::vector<const Constant*>& constants) {
  attrs.only({"shape", "coefficients"});
  const size_t maps = constants.size();
  if (maps == 0) attrs.fail("pixel_grid takes at least one map");
  const std::vector<int64_t> shape =
      attrs.integer_list("shape", 1, kMaxRank, kWidth, std::numeric_limits<int32_t>::max());
  const auto at = [&](int64_t e) {
    return static_cast<size_t>(std::find(shape.begin(), shape.end(), e) - shape.begin());
  };
  const bool flat = std::count(shape.begin(), shape.end(), kPixels) == 1 && at(kHeight) == shape.size() &&
                    at(kWidth) == shape.size();
  const bool plane = std::count(shape.begin(), shape.end(), kHeight) == 1 &&
                     std::count(shape.begin(), shape.end(), kWidth) == 1 && at(kWidth) == at(kHeight) + 1 &&
                     at(kPixels) == shape.size() && maps == 1;
  if (!(flat || plane) || std::count(shape.begin(), shape.end(), 0) != 0)
    attrs.fail("attribute 'shape' must have one -1 (the maps' pixels), or -2 then -3 (one map's height and width), "
               "and sizes >= 1 elsewhere");
  size_t rows = 1;
  for (int64_t e : shape)
    if (e > 0) rows = checked_mul(rows, static_cast<size_t>(e), "the grid's rows");
  const size_t count = checked_mul(checked_mul(rows, maps, "the grid's coefficients"), 3, "the grid's coefficients");
  constexpr double kLargest = 1e30;  // finite
  std::vector<double> coefficients = attrs.real_list("coefficients", count, -kLargest, kLargest);
  return std::make_unique<PixelGrid>(shape, std::move(coefficients), maps, flat ? at(kPixels) : at(kHeight));
}

}  // namespace pyprune::graph
