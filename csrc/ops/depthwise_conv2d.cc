// NCHW depthwise convolution: splits the work into channel planes. Where a "same"-padding
// kernel takes the window, runs of planes go to it straight from the input; where a strip
// kernel does, each plane is split into strips of output rows, each strip's zero-padded input
// built in a per-thread buffer small enough to stay in L1 and handed to the strip kernel
// (layouts: see ukernels.h); any other window runs on the taps kernel (depthwise_taps.h).
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "aligned_buffer.h"
#include "depthwise_taps.h"
#include "pyprune/capabilities.h"
#include "pyprune/depthwise.h"
#include "pyprune/threadpool.h"

namespace pyprune {
namespace {

constexpr size_t kDepthwiseStripBytes = 32 * 1024;

// One image plane's geometry (the bottom padding only shows in output_height).
struct PlaneShape {
  size_t input_height, input_width, output_height, output_width;
  size_t kernel_size, stride, pad_top, pad_left, pad_right;
};

// Per-thread strip buffer that only grows. Packing writes only the columns that hold input
// values, so the zero padding columns and row slack stay valid between strips and planes:
// the buffer is cleared only when the layout that decides which columns hold input (`key`)
// changes or more rows are needed. Rows that are top/bottom padding are cleared only if they
// have held input since (`has_input`, one flag per padded row of the strip).
struct DepthwiseScratch {
  AlignedBuffer buffer;
  size_t key[4] = {0, 0, 0, 0};  // row_floats, stride, pad_left, input_width of the clearing
  size_t cleared = 0;            // floats cleared under `key`
  std::vector<unsigned char> has_input;
};

DepthwiseScratch& scratch(size_t floats, size_t padded_rows, const size_t (&key)[4]) {
  thread_local DepthwiseScratch s;
  if (s.buffer.reserve(floats)) s.cleared = 0;
  if (!std::equal(key, key + 4, s.key) || floats > s.cleared) {
    std::memset(s.buffer.data(), 0, floats * sizeof(float));
    std::copy(key, key + 4, s.key);
    s.cleared = floats;
    s.has_input.assign(padded_rows, 0);
  }
  return s;
}

struct StripLayout {
  size_t padded_width;  // input width plus the left and right padding
  size_t row_floats;    // floats between physical strip rows (with slack, 64-byte multiple)
  size_t strip_rows;    // output rows per strip

  size_t physical_rows(size_t kernel_size, size_t stride, size_t output_rows) const {
    const size_t padded_rows = (output_rows - 1) * stride + kernel_size;
    return stride == 1 ? padded_rows : 2 * padded_rows;
  }
};

StripLayout plan_strips(const PlaneShape& s, size_t tile_rows) {
  StripLayout l;
  l.padded_width = s.input_width + s.pad_left + s.pad_right;
  const size_t row_width = pp_divide_round_up(l.padded_width, s.stride);
  l.row_floats = pp_round_up(row_width + PP_DWCONV2D_CHW_ROW_SLACK, PP_ALIGNMENT / sizeof(float));
  // Each output row consumes `stride` padded rows, each `stride` physical rows.
  const size_t bytes_per_output_row = s.stride * s.stride * l.row_floats * sizeof(float);
  const size_t fit = std::max<size_t>(1, kDepthwiseStripBytes / bytes_per_output_row);
  l.strip_rows = std::max(tile_rows, fit / tile_rows * tile_rows);
  l.strip_rows = std::min(l.strip_rows, s.output_height);
  return l;
}

// memcpy for short rows without the library call (most rows of late layers are 7-28 floats);
// GCC would turn the chunk loop back into a memmove call without the attribute.
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("no-tree-loop-distribute-patterns")))
#endif
inline void copy_input_row(float* PP_RESTRICT dst, const float* PP_RESTRICT src, size_t n) {
  if (n >= 64) {
    std::memcpy(dst, src, n * sizeof(float));
    return;
  }
  size_t i = 0;
  for (; i + 4 <= n; i += 4) std::memcpy(dst + i, src + i, 4 * sizeof(float));
  for (; i < n; i++) dst[i] = src[i];
}

// Copies padded input rows [first, first + count) of one plane into the strip. Writes only
// the input columns of each row (the zero columns around them are left from scratch()'s
// clearing, see DepthwiseScratch) and clears whole rows that are top/bottom padding.
#if defined(__GNUC__)
__attribute__((noinline))  // own register allocation: inlined, its loops spill pointers
#endif
void pack_strip(const PlaneShape& s, const StripLayout& l, const float* plane,
                ptrdiff_t first, size_t count, float* strip, unsigned char* has_input) {
  const ptrdiff_t height = s.input_height;
  const size_t width = s.input_width, pad = s.pad_left;
  for (size_t r = 0; r < count; r++) {
    const ptrdiff_t y = first + static_cast<ptrdiff_t>(r) - static_cast<ptrdiff_t>(s.pad_top);
    float* row = strip + r * s.stride * l.row_floats;
    if (y < 0 || y >= height) {
      if (has_input[r]) std::memset(row, 0, s.stride * l.row_floats * sizeof(float));
      has_input[r] = 0;
      continue;
    }
    has_input[r] = 1;
    const float* src = plane + y * width;
    if (s.stride == 1) {
      copy_input_row(row + pad, src, width);
      continue;
    }
    // Stride 2: padded column c = x + pad goes to row (c & 1), index c >> 1, so even input
    // columns 2m land in one phase row at m + pad/2 and odd ones 2m+1 in the other at
    // m + (pad+1)/2. Branch-free, so the compiler vectorizes the deinterleave.
    float* PP_RESTRICT even = row + (pad & 1) * l.row_floats + (pad >> 1);
    float* PP_RESTRICT odd = row + ((pad + 1) & 1) * l.row_floats + ((pad + 1) >> 1);
    const size_t pairs = width / 2;
    for (size_t m = 0; m < pairs; m++) {
      even[m] = src[2 * m];
      odd[m] = src[2 * m + 1];
    }
    if (width & 1) even[pairs] = src[width - 1];
  }
}

// This thread's strip buffer, ready for planes of this layout.
DepthwiseScratch& strip_scratch(const PlaneShape& s, const StripLayout& l) {
  const size_t floats = l.physical_rows(s.kernel_size, s.stride, l.strip_rows) * l.row_floats;
  const size_t key[4] = {l.row_floats, s.stride, s.pad_left, s.input_width};
  return scratch(floats, floats / (s.stride * l.row_floats), key);
}

// Output rows [first_row, first_row + rows) of one plane (weights: bias then taps), each strip
// through the epilogue as soon as it is written (`base`: the start of the epilogue's output).
void plane_rows(const PlaneShape& s, const StripLayout& l, DepthwiseScratch& buffer, const pp_f32_dwconv2d_chw_ukernel& ukernel,
                const float* plane, const float* weights, size_t first_row, size_t rows, float* output,
                size_t output_stride, const Epilogue& epilogue, const float* base) {
  const pp_f32_minmax_params clamp = epilogue.kernel_clamp();
  for (size_t y = 0; y < rows; y += l.strip_rows) {
    const size_t strip_rows = std::min(l.strip_rows, rows - y);
    const size_t padded_rows = (strip_rows - 1) * s.stride + s.kernel_size;
    float* out = reinterpret_cast<float*>(reinterpret_cast<char*>(output) + y * output_stride);
    pack_strip(s, l, plane, (first_row + y) * s.stride, padded_rows, buffer.buffer.data(), buffer.has_input.data());
    ukernel.fn(strip_rows, s.output_width, buffer.buffer.data(), weights, out, l.row_floats * sizeof(float),
               output_stride, &clamp);
    if (output_stride == s.output_width * sizeof(float)) {
      epilogue.apply(out, 1, strip_rows * s.output_width, 0, base);
    } else {
      epilogue.apply(out, strip_rows, s.output_width, output_stride, base);
    }
  }
}

// kernel_size / 2 on every side, no dilation: what the "same"-padding kernels take.
bool same_padding(const Window2d& w) {
  const size_t p = w.kernel_h / 2;
  return w.kernel_h == w.kernel_w && w.stride_h == w.stride_w && w.dilation_h == 1 && w.dilation_w == 1 &&
         w.pad_top == p && w.pad_left == p && w.pad_bottom == p && w.pad_right == p;
}

// Per-thread buffers of the "same"-padding path: the zero row, and a copy of a plane near either
// end of the input with the slack the kernels read around it (the caller's array has none).
struct SameScratch {
  AlignedBuffer zero, plane;
};

constexpr size_t kSameSlack = PP_DWCONV2D_CHW_SAME_SLACK;

// The split of a layer into tasks: contiguous runs of whole planes (so the per-task costs, a
// std::function call and a thread-local lookup, are paid per run, not per plane) of at least
// kTaskMacs multiply-adds (two or three microseconds), each worth handing to another core: a
// round trip between cores costs up to ~0.3 us, and the pool's workers spin between layers.
// Small layers split too: MobileNets' 14x14 and 7x7 depthwise layers, which had run on one
// thread below 1 M multiply-adds, made MobileNetV1 and V2 4-6 % faster at 2 threads when split,
// and no slower at 1. The split depends on the sizes only, never on the thread count.
constexpr size_t kTaskMacs = 32 * 1024;

size_t plane_macs(const Shape4& y, const Window2d& w) { return y.plane() * w.kernel_h * w.kernel_w; }

// Runs of planes past 16 are whole multiples of 16: AVX-512's 5x5 kernels take 16 channels at a
// time (dwconv2d-chw-same-x86.h), and a ragged block computes all 16.
size_t planes_per_task(size_t planes, size_t macs) {
  const size_t per_task = pp_divide_round_up(kTaskMacs, macs);
  return std::min(planes, per_task > 16 ? pp_round_up(per_task, 16) : per_task);
}

PlaneShape plane_shape(const Shape4& x, const Shape4& y, const Window2d& w) {
  return {x.h, x.w, y.h, y.w, w.kernel_h, w.stride_h, w.pad_top, w.pad_left, w.pad_right};
}

// Whether a "same"-padding kernel of max_width (0: any) runs inputs `width` columns wide.
bool within(size_t max_width, size_t width) { return max_width == 0 || width <= max_width; }

// The name of what runs on inputs `width` columns wide (0: any) with `same` (up to max_width
// columns; nullptr: none) and `strip`.
std::string kernels_name(const pp_f32_dwconv2d_chw_same_ukernel* same, size_t max_width,
                         const pp_f32_dwconv2d_chw_ukernel* strip, size_t width) {
  const std::string strip_name = strip != nullptr ? strip->name : "?";
  if (same == nullptr || !within(max_width, width)) return strip_name;
  if (width == 0 && max_width != 0)
    return std::string(same->name) + " (to " + std::to_string(max_width) + " columns, then " + strip_name + ")";
  return same->name;
}

}  // namespace

std::string depthwise_ukernel_name(const Window2d& window, size_t width) {
  if (!depthwise_strip_rejects(window).empty()) return pp_f32_dwconv2d_taps_config().name;
  const int kernel_size = static_cast<int>(window.kernel_h), stride = static_cast<int>(window.stride_h);
  const auto* same = same_padding(window) ? pp_f32_dwconv2d_chw_same_config(kernel_size, stride) : nullptr;
  return kernels_name(same, same != nullptr ? same->max_width : 0, pp_f32_dwconv2d_chw_config(kernel_size, stride),
                      width);
}

DepthwiseConv2d::DepthwiseConv2d(size_t channels, const Window2d& window, const float* weight, const float* bias,
                                 const pp_f32_dwconv2d_chw_ukernel* ukernel,
                                 const pp_f32_dwconv2d_chw_same_ukernel* same)
    : channels_(channels), window_(window), ukernel_(nullptr), same_(nullptr), taps_(nullptr), same_max_width_(0) {
  require(conv2d_window_rejects(window));
  if (channels == 0) throw std::invalid_argument("weight must have at least one channel");
  const std::string strip_rejects = depthwise_strip_rejects(window);
  if (ukernel != nullptr || same != nullptr) require(strip_rejects);
  if (!strip_rejects.empty()) {
    taps_ = &pp_f32_dwconv2d_taps_config();
  } else {
    const size_t kernel_size = window.kernel_h, stride = window.stride_h;
    ukernel_ = ukernel != nullptr
                   ? ukernel
                   : pp_f32_dwconv2d_chw_config(static_cast<int>(kernel_size), static_cast<int>(stride));
    if (ukernel_->kernel_size != static_cast<int>(kernel_size) || ukernel_->stride != static_cast<int>(stride))
      throw std::invalid_argument(std::string("ukernel ") + ukernel_->name + " is for another kernel size or stride");
    if (same != nullptr) {
      if (ukernel != nullptr) throw std::invalid_argument("a strip and a \"same\"-padding ukernel are both given");
      if (same->kernel_size != static_cast<int>(kernel_size) || same->stride != static_cast<int>(stride) ||
          !same_padding(window))
        throw std::invalid_argument(std::string("ukernel ") + same->name +
                                    " is for another kernel size, stride or padding");
      same_ = same;
    } else if (ukernel == nullptr && same_padding(window)) {
      same_ = pp_f32_dwconv2d_chw_same_config(static_cast<int>(kernel_size), static_cast<int>(stride));
      if (same_ != nullptr) same_max_width_ = same_->max_width;
    }
  }
  const size_t taps = window.kernel_h * window.kernel_w;
  weights_.resize(checked_mul(channels, 1 + taps, "weight"));
  for (size_t c = 0; c < channels; c++) {
    weights_[c * (1 + taps)] = bias != nullptr ? bias[c] : 0.0f;
    std::copy(weight + c * taps, weight + (c + 1) * taps, &weights_[c * (1 + taps) + 1]);
  }
}

std::string DepthwiseConv2d::ukernel_name(size_t width) const {
  if (taps_ != nullptr) return taps_->name;
  return kernels_name(same_, same_max_width_, ukernel_, width);
}

bool DepthwiseConv2d::runs_same(size_t width) const { return same_ != nullptr && within(same_max_width_, width); }

Shape4 DepthwiseConv2d::output_shape(const Shape4& x) const {
  if (x.c != channels_)
    throw std::invalid_argument("x must have " + std::to_string(channels_) + " channels, got shape " + to_string(x));
  return window_output(x, channels_, window_);
}

void DepthwiseConv2d::run_rows(const Shape4& x_shape, size_t channel, const float* plane, size_t first_row,
                               size_t rows, float* out, size_t out_stride, const Activation& activation) const {
  if (ukernel_ == nullptr) throw std::logic_error("no strip kernel takes a " + window_.describe() + " window");
  const Shape4 y = output_shape(x_shape);
  const PlaneShape s = plane_shape(x_shape, y, window_);
  const StripLayout l = plan_strips(s, ukernel_->tile_rows);
  const size_t taps = window_.kernel_h * window_.kernel_w;
  plane_rows(s, l, strip_scratch(s, l), *ukernel_, plane, &weights_[channel * (1 + taps)], first_row, rows, out,
             out_stride, Epilogue(activation), out);
}

void DepthwiseConv2d::run_same(const Shape4& x_shape, const float* input, float* output,
                               const Epilogue& epilogue) const {
  const Shape4 y = output_shape(x_shape);
  const size_t planes = y.n * y.c, in_plane = x_shape.plane(), out_plane = y.plane();
  const size_t weights_per_channel = 1 + window_.kernel_h * window_.kernel_w;
  const pp_f32_minmax_params clamp = epilogue.kernel_clamp();
  const size_t per_task = planes_per_task(planes, plane_macs(y, window_));
  parallel_for(pp_divide_round_up(planes, per_task), [&](size_t task) {
    thread_local SameScratch scratch;
    // The kernels only read the zero row: filled when it grows, all of it, not per task.
    if (scratch.zero.reserve(x_shape.w + 2 * kSameSlack))
      std::fill_n(scratch.zero.data(), scratch.zero.capacity(), 0.0f);
    const float* zero = scratch.zero.data() + kSameSlack;
    // Planes [p, p + count) of one image's channels, from `from` (the input, or a copy).
    auto call = [&](size_t p, size_t count, const float* from) {
      float* out = output + p * out_plane;
      same_->fn(count, x_shape.h, x_shape.w, from, &weights_[p % channels_ * weights_per_channel], out, zero, &clamp);
      epilogue.apply(out, 1, count * out_plane, 0, output);
    };
    // The planes within kSameSlack floats of either end of the input (the first and the last,
    // more when planes are smaller) run from a copy with slack around it.
    auto call_copied = [&](size_t p) {
      scratch.plane.reserve(in_plane + 2 * kSameSlack);
      std::copy_n(input + p * in_plane, in_plane, scratch.plane.data() + kSameSlack);
      call(p, 1, scratch.plane.data() + kSameSlack);
    };
    const size_t edge = pp_divide_round_up(kSameSlack, in_plane);
    const size_t end = std::min(planes, (task + 1) * per_task);
    for (size_t p = task * per_task; p < end;) {
      if (p < edge || p + edge >= planes) {
        call_copied(p++);
        continue;
      }
      const size_t count = std::min({end, planes - edge, p + channels_ - p % channels_}) - p;
      call(p, count, input + p * in_plane);
      p += count;
    }
  });
}

void DepthwiseConv2d::run(const Shape4& x_shape, const float* input, float* output, const Epilogue& epilogue) const {
  const Shape4 y = output_shape(x_shape);
  if (runs_same(x_shape.w)) {
    run_same(x_shape, input, output, epilogue);
    return;
  }
  const size_t planes = y.n * y.c;
  const size_t per_task = planes_per_task(planes, plane_macs(y, window_));
  if (taps_ != nullptr) {
    parallel_for(pp_divide_round_up(planes, per_task), [&](size_t task) {
      depthwise_taps_planes(*taps_, window_, channels_, weights_.data(), x_shape, y, input, task * per_task,
                            std::min(planes, (task + 1) * per_task), output, epilogue);
    });
    return;
  }
  const PlaneShape s = plane_shape(x_shape, y, window_);
  const StripLayout l = plan_strips(s, ukernel_->tile_rows);
  const size_t weights_per_channel = 1 + window_.kernel_h * window_.kernel_w;
  parallel_for(pp_divide_round_up(planes, per_task), [&](size_t task) {
    DepthwiseScratch& buffer = strip_scratch(s, l);
    const size_t end = std::min(planes, (task + 1) * per_task);
    for (size_t p = task * per_task; p < end; p++) {
      plane_rows(s, l, buffer, *ukernel_, input + p * x_shape.plane(), &weights_[p % channels_ * weights_per_channel], 0,
                 y.h, output + p * y.plane(), y.w * sizeof(float), epilogue, output);
    }
  });
}

}  // namespace pyprune
