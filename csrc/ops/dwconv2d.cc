// NCHW depthwise convolution driver: splits the work into channel planes and each plane into
// strips of output rows, builds each strip's zero-padded input in a per-thread buffer small
// enough to stay in L1, and hands it to the microkernel (layout: see ukernels.h).
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "pyprune/ops.h"
#include "pyprune/threadpool.h"

namespace pyprune {
namespace {

constexpr size_t kStripBytes = 32 * 1024;

struct AlignedFree {
  void operator()(float* p) const { std::free(p); }
};

// Per-thread scratch that only grows.
float* scratch(size_t floats) {
  thread_local std::unique_ptr<float, AlignedFree> buffer;
  thread_local size_t capacity = 0;
  if (floats > capacity) {
    capacity = pp_round_up(floats, 1024);
    buffer.reset(static_cast<float*>(std::aligned_alloc(PP_ALIGNMENT, capacity * sizeof(float))));
    if (!buffer) throw std::bad_alloc();
  }
  return buffer.get();
}

struct StripLayout {
  size_t padded_width;  // input width plus padding on both sides
  size_t row_floats;    // floats between physical strip rows (with slack, 64-byte multiple)
  size_t strip_rows;    // output rows per strip

  size_t physical_rows(int kernel_size, int stride, size_t output_rows) const {
    const size_t padded_rows = (output_rows - 1) * stride + kernel_size;
    return stride == 1 ? padded_rows : 2 * padded_rows;
  }
};

StripLayout plan_strips(const DepthwiseConv2dShape& s, size_t tile_rows) {
  StripLayout l;
  l.padded_width = s.input_width + 2 * s.padding;
  const size_t row_width = pp_divide_round_up(l.padded_width, s.stride);
  l.row_floats = pp_round_up(row_width + PP_DWCONV2D_CHW_ROW_SLACK, PP_ALIGNMENT / sizeof(float));
  // Each output row consumes `stride` padded rows, each `stride` physical rows.
  const size_t bytes_per_output_row = s.stride * s.stride * l.row_floats * sizeof(float);
  const size_t fit = std::max<size_t>(1, kStripBytes / bytes_per_output_row);
  l.strip_rows = std::max(tile_rows, fit / tile_rows * tile_rows);
  l.strip_rows = std::min(l.strip_rows, s.output_height());
  return l;
}

// Copies padded input rows [first, first + count) of one plane into the strip.
void pack_strip(const DepthwiseConv2dShape& s, const StripLayout& l, const float* plane,
                ptrdiff_t first, size_t count, float* strip) {
  const ptrdiff_t height = s.input_height, width = s.input_width, pad = s.padding;
  for (size_t r = 0; r < count; r++) {
    const ptrdiff_t y = first + static_cast<ptrdiff_t>(r) - pad;
    float* row = strip + r * s.stride * l.row_floats;
    if (y < 0 || y >= height) {
      std::memset(row, 0, s.stride * l.row_floats * sizeof(float));
      continue;
    }
    const float* src = plane + y * width;
    if (s.stride == 1) {
      std::memset(row, 0, pad * sizeof(float));
      std::memcpy(row + pad, src, width * sizeof(float));
      std::memset(row + pad + width, 0, (l.row_floats - pad - width) * sizeof(float));
      continue;
    }
    // Stride 2: padded column c goes to row (c & 1), index c >> 1.
    for (int phase = 0; phase < 2; phase++) {
      float* dst = row + phase * l.row_floats;
      for (size_t i = 0; i < l.row_floats; i++) {
        const ptrdiff_t x = static_cast<ptrdiff_t>(2 * i) + phase - pad;
        dst[i] = (x >= 0 && x < width) ? src[x] : 0.0f;
      }
    }
  }
}

}  // namespace

void depthwise_conv2d_nchw(const DepthwiseConv2dShape& s, const float* input, const float* weight,
                           const float* bias, float* output, const pp_f32_minmax_params& params,
                           const pp_f32_dwconv2d_chw_ukernel& ukernel) {
  PP_ASSERT(ukernel.kernel_size == s.kernel_size && ukernel.stride == s.stride);
  const size_t taps = s.kernel_size * s.kernel_size;
  const size_t out_h = s.output_height(), out_w = s.output_width();
  const StripLayout l = plan_strips(s, ukernel.tile_rows);
  const size_t scratch_floats = l.physical_rows(s.kernel_size, s.stride, l.strip_rows) * l.row_floats;

  parallel_for(s.batch * s.channels, [&](size_t plane_index) {
    const size_t c = plane_index % s.channels;
    float weights[1 + 25];
    weights[0] = bias != nullptr ? bias[c] : 0.0f;
    std::copy(weight + c * taps, weight + (c + 1) * taps, weights + 1);
    const float* plane = input + plane_index * s.input_height * s.input_width;
    float* out_plane = output + plane_index * out_h * out_w;
    float* strip = scratch(scratch_floats);
    for (size_t y0 = 0; y0 < out_h; y0 += l.strip_rows) {
      const size_t rows = std::min(l.strip_rows, out_h - y0);
      const size_t padded_rows = (rows - 1) * s.stride + s.kernel_size;
      pack_strip(s, l, plane, y0 * s.stride, padded_rows, strip);
      ukernel.fn(rows, out_w, strip, weights, out_plane + y0 * out_w,
                 l.row_floats * sizeof(float), out_w * sizeof(float), &params);
    }
  });
}

}  // namespace pyprune
