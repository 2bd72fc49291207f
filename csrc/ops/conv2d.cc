// NCHW convolution driver on the GEMM microkernel: out[group][Cout/g, pixels] =
// W[group][Cout/g, Cin/g * kh * kw] x B, where B is the input itself for 1x1 stride-1
// convolutions and otherwise an im2col panel of a few hundred pixels built per task in a
// per-thread buffer, so it stays in cache while every block of output channels uses it. Each
// block's epilogue (residual, activation) runs right after the kernel wrote it. Inputs that one
// output pixel reads whole go to FullyConnected (a GEMV per image) instead.
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
  size_t channels;  // input channels per group
  Window2d window;
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

// dst[i] = src[x0 + i * stride] where that column is inside [0, width), else 0, for i < count:
// zeros, then a strided (or contiguous) copy, then zeros.
inline void gather_row(const float* src, ptrdiff_t width, ptrdiff_t x0, size_t stride, size_t count, float* dst) {
  const ptrdiff_t s = static_cast<ptrdiff_t>(stride), n = static_cast<ptrdiff_t>(count);
  // ceil(a / s) as (a - 1) / s + 1 for a > 0: no overflow even for strides near 2^63
  const ptrdiff_t lo = x0 >= 0 ? 0 : std::min(n, (-x0 - 1) / s + 1);
  const ptrdiff_t hi = x0 >= width ? lo : std::max(lo, std::min(n, (width - x0 - 1) / s + 1));
  std::fill(dst, dst + lo, 0.0f);
  if (hi == lo) {
    // nothing of the input row
  } else if (stride == 1) {
    std::memcpy(dst + lo, src + x0 + lo, (hi - lo) * sizeof(float));
  } else {
    const float* p = src + x0 + lo * s;
    for (ptrdiff_t i = lo; i < hi; i++, p += s) dst[i] = *p;
  }
  std::fill(dst + hi, dst + n, 0.0f);
}

// Rows (ci, kh, kw) of the im2col matrix for output pixels [first, first + count) of one
// group's input planes: row r holds input[ci][oy * sh - top + kh * dh][ox * sw - left + kw * dw]
// or 0 outside the input.
void im2col(const Geometry& g, const float* input, size_t first, size_t count, float* panel) {
  const Window2d& w = g.window;
  const size_t ow = g.y.w;
  const ptrdiff_t height = g.x.h, width = g.x.w;
  float* row = panel;
  for (size_t ci = 0; ci < g.channels; ci++) {
    const float* plane = input + ci * g.x.plane();
    for (size_t kh = 0; kh < w.kernel_h; kh++) {
      for (size_t kw = 0; kw < w.kernel_w; kw++, row += count) {
        size_t n = 0;
        while (n < count) {
          const size_t pixel = first + n, oy = pixel / ow, ox0 = pixel % ow;
          const size_t run = std::min(count - n, ow - ox0);  // pixels left in this output row
          const ptrdiff_t y = static_cast<ptrdiff_t>(oy * w.stride_h + kh * w.dilation_h) -
                              static_cast<ptrdiff_t>(w.pad_top);
          if (y < 0 || y >= height) {
            std::fill(row + n, row + n + run, 0.0f);
          } else {
            const ptrdiff_t x0 = static_cast<ptrdiff_t>(ox0 * w.stride_w + kw * w.dilation_w) -
                                 static_cast<ptrdiff_t>(w.pad_left);
            gather_row(plane + y * width, width, x0, w.stride_w, run, row + n);
          }
          n += run;
        }
      }
    }
  }
}

}  // namespace

Conv2d::Conv2d(size_t out_channels, size_t in_channels, const Window2d& window, size_t groups, const float* weight,
               const float* bias, const pp_f32_gemm_ukernel* ukernel)
    : out_channels_(out_channels), in_channels_(in_channels), window_(window), groups_(groups),
      ukernel_(ukernel != nullptr ? ukernel : &pp_f32_gemm_config()) {
  require(conv2d_window_rejects(window));
  if (groups < 1 || out_channels % groups != 0 || in_channels % groups != 0 || in_channels == 0)
    throw std::invalid_argument("groups must be at least 1 and divide the " + std::to_string(out_channels) +
                                " output channels and the input channels, got " + std::to_string(groups));
  const size_t taps = checked_mul(window.kernel_h, window.kernel_w, "weight");
  const size_t elements = checked_mul(out_channels, checked_mul(in_channels / groups, taps, "weight"), "weight");
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

bool Conv2d::pointwise() const {
  const Window2d& w = window_;
  return w.kernel_h == 1 && w.kernel_w == 1 && w.stride_h == 1 && w.stride_w == 1 && w.pad_top == 0 &&
         w.pad_left == 0 && w.pad_bottom == 0 && w.pad_right == 0;
}

bool Conv2d::reads_whole_plane(const Shape4& x) const {
  const Window2d& w = window_;
  return groups_ == 1 && x.h == w.kernel_h && x.w == w.kernel_w && w.dilation_h == 1 && w.dilation_w == 1 &&
         w.pad_top == 0 && w.pad_left == 0 && w.pad_bottom == 0 && w.pad_right == 0;
}

const FullyConnected& Conv2d::fully_connected() const {
  std::call_once(panels_->once, [this] {
    const pp_f32_gemv_ukernel& gemv = pp_f32_gemv_config();
    const size_t mr = ukernel_->mr, d = depth();
    if (gemv.nr == mr) {
      panels_->op = std::make_unique<FullyConnected>(out_channels_, d, packed_.data(), gemv);
      return;
    }
    std::vector<float> weight(out_channels_ * d), bias(out_channels_);
    for (size_t co = 0; co < out_channels_; co++) {
      const float* block = &packed_[co / mr * mr * (1 + d) + co % mr];
      bias[co] = block[0];
      for (size_t k = 0; k < d; k++) weight[co * d + k] = block[mr + k * mr];
    }
    panels_->op = std::make_unique<FullyConnected>(out_channels_, d, weight.data(), bias.data(), &gemv);
  });
  return *panels_->op;
}

Shape4 Conv2d::output_shape(const Shape4& x) const {
  if (x.c != in_channels_)
    throw std::invalid_argument("x must have " + std::to_string(in_channels_) + " channels, got shape " + to_string(x));
  return window_output(x, out_channels_, window_);
}

void Conv2d::gemm_blocks(size_t first_block, size_t count, size_t pixels, const float* b, size_t b_stride, float* c,
                         size_t c_stride, const Epilogue& epilogue, const float* output) const {
  const size_t mr = ukernel_->mr, block_floats = mr * (1 + in_channels_);
  const pp_f32_minmax_params clamp = epilogue.kernel_clamp();
  for (size_t block = first_block; block < first_block + count; block++) {
    const size_t m0 = block * mr, rows = std::min(mr, out_channels_ - m0);
    float* tile = reinterpret_cast<float*>(reinterpret_cast<char*>(c) + m0 * c_stride);
    ukernel_->fn(rows, pixels, in_channels_, b, b_stride, &packed_[block * block_floats], tile, c_stride, &clamp);
    epilogue.apply(tile, rows, pixels, c_stride, output);
  }
}

void Conv2d::run(const Shape4& x_shape, const float* input, float* output, const Epilogue& epilogue) const {
  const Geometry s{in_channels_ / groups_, window_, x_shape, output_shape(x_shape)};
  if (reads_whole_plane(x_shape)) {
    fully_connected().run(x_shape.n, input, output, epilogue);
    return;
  }
  const pp_f32_gemm_ukernel& ukernel = *ukernel_;
  const size_t mr = ukernel.mr, d = depth(), per_group = out_channels_ / groups_;
  const size_t blocks = this->blocks(), block_floats = mr * (1 + d);
  const size_t pixels = s.y.plane(), in_plane = x_shape.plane();
  const size_t panel = panel_pixels(d, pixels, ukernel.nr), panels = pp_divide_round_up(pixels, panel);
  const size_t images = x_shape.n * groups_;
  const float* packed = packed_.data();
  const pp_f32_minmax_params clamp = epilogue.kernel_clamp();

  auto gemm = [&](size_t image, size_t block, size_t first, size_t count, const float* b, size_t b_stride) {
    const size_t g = image % groups_, m0 = block * mr, rows = std::min(mr, per_group - m0);
    float* c = output + (image * per_group + m0) * pixels + first;
    ukernel.fn(rows, count, d, b, b_stride, packed + (g * blocks + block) * block_floats, c, pixels * sizeof(float),
               &clamp);
    epilogue.apply(c, rows, count, pixels * sizeof(float), output);
  };
  // Input planes of image (batch n, group g): channels g * Cin/g onwards of batch n.
  auto group_input = [&](size_t image) { return input + image * s.channels * in_plane; };

  if (pointwise()) {
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
