// Fused depthwise-separable convolution: for each strip of output rows, the depthwise result of
// every channel (through its activation) goes to a buffer sized to stay in L2, and the pointwise
// GEMM consumes it from there: the intermediate tensor never makes a round trip through memory.
#include "pyprune/separable.h"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "cache_sets.h"
#include "pyprune/capabilities.h"
#include "pyprune/threadpool.h"

namespace pyprune {
namespace {

constexpr size_t kSeparableStripBytes = 256 * 1024;

}  // namespace

SeparableConv2d::SeparableConv2d(DepthwiseConv2d depthwise, const Activation& depthwise_activation, Conv2d pointwise)
    : depthwise_(std::move(depthwise)), depthwise_activation_(depthwise_activation), pointwise_(std::move(pointwise)) {
  if (pointwise_.in_channels() != depthwise_.channels() || !pointwise_.pointwise() || pointwise_.groups() != 1)
    throw std::invalid_argument("pw_weight must have shape (Cout, " + std::to_string(depthwise_.channels()) +
                                ", 1, 1)");
}

Shape4 SeparableConv2d::output_shape(const Shape4& x) const {
  Shape4 y = depthwise_.output_shape(x);
  y.c = pointwise_.out_channels();
  y.elements("the output");
  return y;
}

void SeparableConv2d::run(const Shape4& x_shape, const float* input, float* output, const Epilogue& epilogue) const {
  const Shape4 y = output_shape(x_shape);
  const size_t channels = depthwise_.channels(), pixels = y.plane();
  // Strip height from the shape only (never the thread count), so results do not depend on it.
  const size_t tile_rows = depthwise_.ukernel().tile_rows;
  size_t rows = std::max<size_t>(1, kSeparableStripBytes / (channels * y.w * sizeof(float)));
  if (rows >= tile_rows) rows = rows / tile_rows * tile_rows;
  rows = std::min(rows, y.h);
  // A strip's channels are planes of rows * y.w floats, further apart where those would alias.
  const size_t plane = unaliased_stride(rows * y.w);
  std::vector<float> strip(channels * plane);
  const size_t blocks = pointwise_.blocks();

  for (size_t n = 0; n < x_shape.n; n++) {
    const float* image = input + n * channels * x_shape.plane();
    float* out_image = output + n * y.c * pixels;
    for (size_t y0 = 0; y0 < y.h; y0 += rows) {
      const size_t count = std::min(rows, y.h - y0), strip_pixels = count * y.w;
      parallel_for(channels, [&](size_t c) {
        depthwise_.run_rows(x_shape, c, image + c * x_shape.plane(), y0, count, &strip[c * plane],
                            y.w * sizeof(float), depthwise_activation_);
      });
      parallel_for(blocks, [&](size_t block) {
        pointwise_.gemm_blocks(block, 1, strip_pixels, strip.data(), plane * sizeof(float),
                               out_image + y0 * y.w, pixels * sizeof(float), epilogue, output);
      });
    }
  }
}

}  // namespace pyprune
