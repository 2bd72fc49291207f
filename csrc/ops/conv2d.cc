// NCHW convolution driver on the GEMM microkernel: out[group][Cout/g, pixels] =
// W[group][Cout/g, Cin/g * k * k] x B, where B is the input itself for 1x1 stride-1
// convolutions and otherwise an im2col panel of a few hundred pixels built per task in a
// per-thread buffer, so it stays in cache while every block of output channels uses it.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "aligned_buffer.h"
#include "pyprune/ops.h"
#include "pyprune/threadpool.h"

namespace pyprune {
namespace {

// The B panel (depth rows x panel pixels) should fit in half of L2 alongside the weights.
constexpr size_t kPanelBytes = 256 * 1024;

float* im2col_buffer(size_t floats) {
  thread_local AlignedBuffer buffer;
  buffer.reserve(floats);
  return buffer.data();
}

// Pixels per panel: a multiple of the kernel's register tile (nr), so only the last panel
// has a ragged edge.
size_t panel_pixels(size_t depth, size_t pixels, size_t nr) {
  const size_t fit = kPanelBytes / (depth * sizeof(float)) / nr * nr;
  return std::min(pixels, std::max(nr, fit));
}

// Rows (ci, kh, kw) of the im2col matrix for output pixels [first, first + count) of one
// group's input planes: row r holds input[ci][oy * s - p + kh][ox * s - p + kw] or 0.
void im2col(const Conv2dShape& s, const float* input, size_t first, size_t count, float* panel) {
  const size_t k = s.kernel_size, ow = s.output_width(), channels = s.in_channels / s.groups;
  const ptrdiff_t h = s.input_height, w = s.input_width, pad = s.padding, stride = s.stride;
  float* row = panel;
  for (size_t ci = 0; ci < channels; ci++) {
    const float* plane = input + ci * s.input_height * s.input_width;
    for (size_t kh = 0; kh < k; kh++) {
      for (size_t kw = 0; kw < k; kw++, row += count) {
        size_t n = 0;
        while (n < count) {
          const size_t pixel = first + n, oy = pixel / ow, ox0 = pixel % ow;
          const size_t run = std::min(count - n, ow - ox0);  // pixels left in this output row
          const ptrdiff_t y = static_cast<ptrdiff_t>(oy) * stride - pad + kh;
          float* dst = row + n;
          if (y < 0 || y >= h) {
            std::fill(dst, dst + run, 0.0f);
          } else {
            const float* src = plane + y * w;
            for (size_t i = 0; i < run; i++) {
              const ptrdiff_t x = static_cast<ptrdiff_t>(ox0 + i) * stride - pad + kw;
              dst[i] = (x >= 0 && x < w) ? src[x] : 0.0f;
            }
          }
          n += run;
        }
      }
    }
  }
}

}  // namespace

size_t conv2d_packed_weights_size(const Conv2dShape& s, size_t mr) {
  const size_t blocks = pp_divide_round_up(s.out_channels / s.groups, mr);
  return s.groups * blocks * mr * (1 + s.depth());
}

void pack_conv2d_weights(const Conv2dShape& s, size_t mr, const float* weight, const float* bias,
                         float* packed) {
  const size_t depth = s.depth(), per_group = s.out_channels / s.groups;
  std::fill(packed, packed + conv2d_packed_weights_size(s, mr), 0.0f);
  for (size_t g = 0; g < s.groups; g++) {
    for (size_t m0 = 0; m0 < per_group; m0 += mr) {
      float* block = packed;
      for (size_t m = m0; m < std::min(per_group, m0 + mr); m++) {
        const size_t co = g * per_group + m;
        block[m - m0] = bias != nullptr ? bias[co] : 0.0f;
        for (size_t k = 0; k < depth; k++) block[mr + k * mr + (m - m0)] = weight[co * depth + k];
      }
      packed += mr * (1 + depth);
    }
  }
}

void conv2d_nchw(const Conv2dShape& s, const float* input, const float* packed, float* output,
                 const pp_f32_minmax_params& params, const pp_f32_gemm_ukernel& ukernel) {
  const size_t mr = ukernel.mr, depth = s.depth(), per_group = s.out_channels / s.groups;
  const size_t blocks = pp_divide_round_up(per_group, mr), block_floats = mr * (1 + depth);
  const size_t pixels = s.output_height() * s.output_width();
  const size_t in_plane = s.input_height * s.input_width;
  const bool direct = s.kernel_size == 1 && s.stride == 1 && s.padding == 0;
  const size_t panel = panel_pixels(depth, pixels, ukernel.nr), panels = pp_divide_round_up(pixels, panel);
  const size_t images = s.batch * s.groups;

  auto gemm = [&](size_t image, size_t block, size_t first, size_t count, const float* b,
                  size_t b_stride) {
    const size_t g = image % s.groups, m0 = block * mr;
    float* c = output + (image * per_group + m0) * pixels + first;
    ukernel.fn(std::min(mr, per_group - m0), count, depth, b, b_stride,
               packed + (g * blocks + block) * block_floats, c, pixels * sizeof(float), &params);
  };
  // Input planes of image (batch n, group g): channels g * Cin/g onwards of batch n.
  auto group_input = [&](size_t image) {
    return input + image * (s.in_channels / s.groups) * in_plane;
  };

  if (direct) {
    // One task per (image, panel, block of output channels); consecutive tasks share a panel.
    parallel_for(images * panels * blocks, [&](size_t t) {
      const size_t block = t % blocks, p = t / blocks % panels, image = t / blocks / panels;
      const size_t first = p * panel, count = std::min(panel, pixels - first);
      gemm(image, block, first, count, group_input(image) + first, in_plane * sizeof(float));
    });
    return;
  }
  // One task per (image, panel): the im2col panel is built once and used by every block.
  parallel_for(images * panels, [&](size_t t) {
    const size_t p = t % panels, image = t / panels;
    const size_t first = p * panel, count = std::min(panel, pixels - first);
    float* b = im2col_buffer(depth * count);
    im2col(s, group_input(image), first, count, b);
    for (size_t block = 0; block < blocks; block++) {
      gemm(image, block, first, count, b, count * sizeof(float));
    }
  });
}

}  // namespace pyprune
