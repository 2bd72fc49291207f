// Fused depthwise-separable driver: for each strip of output rows, the depthwise result of
// every channel goes to a buffer sized to stay in L2, and the pointwise GEMM consumes it from
// there: the intermediate tensor never makes a round trip through memory.
#include <algorithm>
#include <cstring>
#include <vector>

#include "pyprune/ops.h"
#include "pyprune/threadpool.h"

namespace pyprune {
namespace {

constexpr size_t kStripBytes = 256 * 1024;

}  // namespace

void separable_conv2d_nchw(const DepthwiseConv2dShape& dw, const float* input,
                           const float* dw_weight, const float* dw_bias,
                           const pp_f32_minmax_params& dw_params,
                           const pp_f32_dwconv2d_chw_ukernel& dw_ukernel, size_t out_channels,
                           const float* pw_packed, const pp_f32_minmax_params& pw_params,
                           const pp_f32_gemm_ukernel& gemm, float* output) {
  const size_t channels = dw.channels, taps = dw.kernel_size * dw.kernel_size;
  const size_t oh = dw.output_height(), ow = dw.output_width(), pixels = oh * ow;
  // Strip height from the shape only (never the thread count), so results do not depend on it.
  size_t rows = std::max<size_t>(1, kStripBytes / (channels * ow * sizeof(float)));
  if (rows >= dw_ukernel.tile_rows) rows = rows / dw_ukernel.tile_rows * dw_ukernel.tile_rows;
  rows = std::min(rows, oh);

  std::vector<float> weights(channels * (1 + taps));  // per channel: bias, then taps
  for (size_t c = 0; c < channels; c++) {
    weights[c * (1 + taps)] = dw_bias != nullptr ? dw_bias[c] : 0.0f;
    std::memcpy(&weights[c * (1 + taps) + 1], dw_weight + c * taps, taps * sizeof(float));
  }
  std::vector<float> strip(channels * rows * ow);
  const size_t blocks = pp_divide_round_up(out_channels, gemm.mr);
  const size_t block_floats = gemm.mr * (1 + channels);

  for (size_t n = 0; n < dw.batch; n++) {
    const float* image = input + n * channels * dw.input_height * dw.input_width;
    float* out_image = output + n * out_channels * pixels;
    for (size_t y0 = 0; y0 < oh; y0 += rows) {
      const size_t count = std::min(rows, oh - y0), strip_pixels = count * ow;
      parallel_for(channels, [&](size_t c) {
        depthwise_conv2d_rows(dw, dw_ukernel, image + c * dw.input_height * dw.input_width,
                              &weights[c * (1 + taps)], y0, count, &strip[c * strip_pixels],
                              ow * sizeof(float), dw_params);
      });
      parallel_for(blocks, [&](size_t block) {
        const size_t m0 = block * gemm.mr;
        gemm.fn(std::min(gemm.mr, out_channels - m0), strip_pixels, channels, strip.data(),
                strip_pixels * sizeof(float), pw_packed + block * block_floats,
                out_image + m0 * pixels + y0 * ow, pixels * sizeof(float), &pw_params);
      });
    }
  }
}

}  // namespace pyprune
