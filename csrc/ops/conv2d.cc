// NCHW convolution driver on the GEMM microkernel: out[group][Cout/g, pixels] =
// W[group][Cout/g, Cin/g * k * k] x B, where B is the input itself for 1x1 stride-1
// convolutions and otherwise an im2col panel of a few hundred pixels built per task in a
// per-thread buffer, so it stays in cache while every block of output channels uses it.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "aligned_buffer.h"
#include "pyprune/capabilities.h"
#include "pyprune/conv2d.h"
#include "pyprune/threadpool.h"

namespace pyprune {
namespace {

// The B panel (depth rows x panel pixels) should fit in half of L2 alongside the weights.
constexpr size_t kPanelBytes = 256 * 1024;

// The geometry of one call.
struct Geometry {
  size_t in_channels, kernel_size, stride, padding, groups;
  Shape4 x, y;
};

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
void im2col(const Geometry& s, const float* input, size_t first, size_t count, float* panel) {
  const size_t k = s.kernel_size, ow = s.y.w, channels = s.in_channels / s.groups;
  const ptrdiff_t h = s.x.h, w = s.x.w, pad = s.padding, stride = s.stride;
  float* row = panel;
  for (size_t ci = 0; ci < channels; ci++) {
    const float* plane = input + ci * s.x.plane();
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

Conv2d::Conv2d(size_t out_channels, size_t in_channels, size_t kernel_size, size_t stride, size_t padding,
               size_t groups, const float* weight, const float* bias, const pp_f32_gemm_ukernel* ukernel)
    : out_channels_(out_channels), in_channels_(in_channels), kernel_(kernel_size), stride_(stride),
      padding_(padding), groups_(groups), ukernel_(ukernel != nullptr ? ukernel : &pp_f32_gemm_config()) {
  require(conv2d_rejects(kernel_size, stride, padding));
  if (groups < 1 || out_channels % groups != 0 || in_channels % groups != 0 || in_channels == 0)
    throw std::invalid_argument("groups must be at least 1 and divide the " + std::to_string(out_channels) +
                                " output channels and the input channels, got " + std::to_string(groups));
  const size_t elements = checked_mul(out_channels, checked_mul(in_channels / groups, checked_mul(kernel_size, kernel_size, "weight"), "weight"), "weight");
  if (elements > kMaxWeightElements)
    throw std::invalid_argument("weight has " + std::to_string(elements) + " elements, more than the " +
                                std::to_string(kMaxWeightElements) + " a layer may have");
  const size_t mr = ukernel_->mr, per_group = out_channels / groups, d = depth();
  packed_.assign(groups * blocks() * mr * (1 + d), 0.0f);
  float* packed = packed_.data();
  for (size_t g = 0; g < groups; g++) {
    for (size_t m0 = 0; m0 < per_group; m0 += mr) {
      for (size_t m = m0; m < std::min(per_group, m0 + mr); m++) {
        const size_t co = g * per_group + m;
        packed[m - m0] = bias != nullptr ? bias[co] : 0.0f;
        for (size_t k = 0; k < d; k++) packed[mr + k * mr + (m - m0)] = weight[co * d + k];
      }
      packed += mr * (1 + d);
    }
  }
}

Shape4 Conv2d::output_shape(const Shape4& x) const {
  if (x.c != in_channels_)
    throw std::invalid_argument("x must have " + std::to_string(in_channels_) + " channels, got shape " + to_string(x));
  return window_output(x, out_channels_, kernel_, stride_, padding_);
}

void Conv2d::gemm_blocks(size_t first_block, size_t count, size_t pixels, const float* b, size_t b_stride, float* c,
                         size_t c_stride, const pp_f32_minmax_params& params) const {
  const size_t mr = ukernel_->mr, block_floats = mr * (1 + in_channels_);
  for (size_t block = first_block; block < first_block + count; block++) {
    const size_t m0 = block * mr;
    ukernel_->fn(std::min(mr, out_channels_ - m0), pixels, in_channels_, b, b_stride, &packed_[block * block_floats],
                 reinterpret_cast<float*>(reinterpret_cast<char*>(c) + m0 * c_stride), c_stride, &params);
  }
}

void Conv2d::run(const Shape4& x_shape, const float* input, float* output, const pp_f32_minmax_params& params) const {
  require(activation_rejects(params));
  const Geometry s{in_channels_, kernel_, stride_, padding_, groups_, x_shape, output_shape(x_shape)};
  const pp_f32_gemm_ukernel& ukernel = *ukernel_;
  const size_t mr = ukernel.mr, d = depth(), per_group = out_channels_ / groups_;
  const size_t blocks = this->blocks(), block_floats = mr * (1 + d);
  const size_t pixels = s.y.plane(), in_plane = x_shape.plane();
  const bool direct = kernel_ == 1 && stride_ == 1 && padding_ == 0;
  const size_t panel = panel_pixels(d, pixels, ukernel.nr), panels = pp_divide_round_up(pixels, panel);
  const size_t images = x_shape.n * groups_;
  const float* packed = packed_.data();

  auto gemm = [&](size_t image, size_t block, size_t first, size_t count, const float* b, size_t b_stride) {
    const size_t g = image % groups_, m0 = block * mr;
    float* c = output + (image * per_group + m0) * pixels + first;
    ukernel.fn(std::min(mr, per_group - m0), count, d, b, b_stride, packed + (g * blocks + block) * block_floats, c,
               pixels * sizeof(float), &params);
  };
  // Input planes of image (batch n, group g): channels g * Cin/g onwards of batch n.
  auto group_input = [&](size_t image) { return input + image * (in_channels_ / groups_) * in_plane; };

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
    float* b = im2col_buffer(d * count);
    im2col(s, group_input(image), first, count, b);
    for (size_t block = 0; block < blocks; block++) gemm(image, block, first, count, b, count * sizeof(float));
  });
}

}  // namespace pyprune
