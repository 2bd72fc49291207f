// Sparse convolution: per image, one SpMM over the (phase-split, zero-padded) input (see
// SparseConv2d in pyprune/sparse.h), split into tasks of pixel ranges x ranges of weight
// blocks. The split depends on the shape only, so results do not depend on the number of
// threads.
#include <algorithm>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "aligned_buffer.h"
#include "cache_sets.h"
#include "copy_row.h"
#include "pyprune/capabilities.h"
#include "pyprune/sparse.h"
#include "pyprune/threadpool.h"

namespace pyprune {

struct SparseConv2d::Plan {
  Shape4 x, y;
  bool direct;
  size_t stride;        // the stride, or 1 for a 1x1 output (which any stride gives alike)
  size_t phases_h, phases_w;  // phase planes per axis: stride, at most the kernel (the ones taps use)
  size_t phase_height, phase_width;
  size_t plane_stride;  // floats from one of the SpMM input's planes to the next
  size_t pixels;        // SpMM pixels per image: (OH - 1) * phase_width + OW
  size_t input_floats;  // SpMM input per image: in_channels * phases_h * phases_w * plane_stride
  std::vector<int32_t> offsets;  // per stored column: byte offset of its input row

  bool copies_input() const { return !direct; }
  bool compacts_output() const { return phase_width != y.w; }
};

namespace {

// Enough tasks to balance two to eight threads without making them tiny.
constexpr size_t kTasks = 32;

struct TaskGrid {
  size_t chunk_pixels, chunks;
  std::vector<size_t> group_blocks;  // groups + 1 block boundaries, balanced by stored values
};

TaskGrid plan_tasks(size_t pixels, const SparseMatrix& w, size_t mr) {
  TaskGrid g;
  g.chunk_pixels = std::max(mr, pp_round_up(pp_divide_round_up(pixels, kTasks), mr));
  g.chunks = pp_divide_round_up(pixels, g.chunk_pixels);
  const size_t groups = std::min(w.blocks(), pp_divide_round_up(kTasks, g.chunks));
  const size_t total = w.values().size();
  g.group_blocks.push_back(0);
  for (size_t b = 1; b < w.blocks() && g.group_blocks.size() < groups; b++)
    if (w.value_start(b) * groups >= total * g.group_blocks.size()) g.group_blocks.push_back(b);
  g.group_blocks.push_back(w.blocks());
  return g;
}

// Phase planes of one image, g.plane_stride apart: plane (ci, a, b) row i column j =
// padded[ci][s*i + a][s*j + b].
void split_phases(const SparseConv2d::Plan& g, const Window2d& window, const float* input, float* phases) {
  const size_t plane = g.plane_stride, s = g.stride;
  const ptrdiff_t height = g.x.h, width = g.x.w, top = window.pad_top, left = window.pad_left;
  const bool whole = s == 1 && top == 0 && left == 0 && g.phase_height == g.x.h && g.phase_width == g.x.w;
  parallel_for(g.x.c, [&](size_t ci) {
    const float* in = input + ci * g.x.plane();
    if (whole) {  // the plane as it is, only further from the next (a 1x1 convolution's aliased planes)
      std::memcpy(phases + ci * plane, in, g.x.plane() * sizeof(float));
      return;
    }
    for (size_t a = 0; a < g.phases_h; a++) {
      for (size_t b = 0; b < g.phases_w; b++) {
        float* out = phases + (ci * g.phases_h * g.phases_w + a * g.phases_w + b) * plane;
        for (size_t i = 0; i < g.phase_height; i++) {
          const ptrdiff_t y = static_cast<ptrdiff_t>(s * i + a) - top;
          float* row = out + i * g.phase_width;
          if (y < 0 || y >= height) {
            std::fill(row, row + g.phase_width, 0.0f);
            continue;
          }
          gather_row(in + y * width, width, static_cast<ptrdiff_t>(b) - left, s, g.phase_width, row);
        }
      }
    }
  });
}

}  // namespace

SparseConv2d::SparseConv2d(SparseMatrix weights, size_t in_channels, const Window2d& window,
                           const pp_f32_spmm_ukernel* ukernel)
    : weights_(std::move(weights)), in_channels_(in_channels), window_(window) {
  require(sparse_window_rejects(window));
  if (in_channels == 0 ||
      checked_mul(in_channels, checked_mul(window.kernel_h, window.kernel_w, "weight"), "weight") != weights_.columns())
    throw std::invalid_argument("the sparse weight must have in_channels * kernel_h * kernel_w columns");
  ukernel_ = ukernel != nullptr ? ukernel : pp_f32_spmm_config(weights_.block());
  if (ukernel_->nr != weights_.block())
    throw std::invalid_argument(std::string("ukernel ") + ukernel_->name + " is for blocks of " +
                                std::to_string(ukernel_->nr) + " output channels, not " +
                                std::to_string(weights_.block()));
}

Shape4 SparseConv2d::output_shape(const Shape4& x) const {
  if (x.c != in_channels_)
    throw std::invalid_argument("x must have " + std::to_string(in_channels_) + " channels, got shape " + to_string(x));
  return window_output(x, weights_.rows(), window_);
}

std::shared_ptr<const SparseConv2d::Plan> SparseConv2d::plan(const Shape4& x, const Shape4& y) const {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (plan_ && plan_->x.h == x.h && plan_->x.w == x.w) return plan_;
  }
  auto p = std::make_shared<Plan>();
  p->x = {1, x.c, x.h, x.w};
  p->y = {1, y.c, y.h, y.w};
  const Window2d& w = window_;
  const bool unpadded = w.pad_top == 0 && w.pad_left == 0 && w.pad_bottom == 0 && w.pad_right == 0;
  p->stride = y.h == 1 && y.w == 1 ? 1 : w.stride_h;
  // The input is read in place unless taps, strides or padding need phase planes, or its planes'
  // rows alias (cache_sets.h): then a copy with planes further apart (90 %-sparse 64 -> 64
  // channels, AVX2: 64x64 to 128x128 planes ran 3-4.7x slower than 56x56 ones in place).
  const bool aliased = rows_alias(x.plane() * sizeof(float));
  p->direct = w.kernel_h == 1 && w.kernel_w == 1 && p->stride == 1 && unpadded && !aliased;
  const size_t s = p->stride, kh = w.kernel_h, kw = w.kernel_w;
  p->phases_h = std::min(s, kh);
  p->phases_w = std::min(s, kw);
  p->phase_height = pp_divide_round_up(x.h + w.pad_top + w.pad_bottom, s);
  p->phase_width = pp_divide_round_up(x.w + w.pad_left + w.pad_right, s);
  p->pixels = (y.h - 1) * p->phase_width + y.w;
  const size_t plane = p->direct ? x.plane() : unaliased_stride(checked_mul(p->phase_height, p->phase_width, "x"));
  p->plane_stride = plane;
  p->input_floats = checked_mul(checked_mul(x.c, p->phases_h * p->phases_w, "x"), plane, "x");
  checked_mul(y.c, p->pixels, "the output");
  if (p->input_floats > static_cast<size_t>(std::numeric_limits<int32_t>::max()) / sizeof(float))
    throw std::length_error("x is too large for sparse convolution (2 GiB per image)");
  p->offsets.resize(weights_.column_indices().size());
  for (size_t j = 0; j < p->offsets.size(); j++) {
    const size_t column = weights_.column_indices()[j];
    // The tap's row and column in the padded input (a dilation comes with stride 1 only).
    const size_t ci = column / (kh * kw), ih = column % (kh * kw) / kw * w.dilation_h, iw = column % kw * w.dilation_w;
    const size_t phase = (ih % s) * p->phases_w + iw % s;
    const size_t at = (ci * p->phases_h * p->phases_w + phase) * plane + ih / s * p->phase_width + iw / s;
    p->offsets[j] = static_cast<int32_t>(at * sizeof(float));
  }
  std::lock_guard<std::mutex> lock(mutex_);
  plan_ = std::move(p);
  return plan_;
}

void SparseConv2d::run(const Shape4& x_shape, const float* input, float* output, const Epilogue& epilogue) const {
  const Shape4 y = output_shape(x_shape);
  const pp_f32_minmax_params clamp = epilogue.kernel_clamp();
  const std::shared_ptr<const Plan> g = plan(x_shape, y);
  const SparseMatrix& w = weights_;
  const TaskGrid grid = plan_tasks(g->pixels, w, ukernel_->mr);
  const size_t groups = grid.group_blocks.size() - 1;
  thread_local AlignedBuffer phase_buffer, wide_buffer;
  if (g->copies_input()) phase_buffer.reserve(g->input_floats);
  if (g->compacts_output()) wide_buffer.reserve(y.c * g->pixels);
  for (size_t n = 0; n < x_shape.n; n++) {
    const float* image = input + n * x_shape.c * x_shape.plane();
    float* out_image = output + n * y.c * y.plane();
    const float* spmm_in = image;
    if (g->copies_input()) {
      split_phases(*g, window_, image, phase_buffer.data());
      spmm_in = phase_buffer.data();
    }
    float* spmm_out = g->compacts_output() ? wide_buffer.data() : out_image;
    const size_t out_stride = g->pixels * sizeof(float);
    parallel_for(grid.chunks * groups, [&](size_t task) {
      const size_t first = task / groups * grid.chunk_pixels;
      const size_t b0 = grid.group_blocks[task % groups], b1 = grid.group_blocks[task % groups + 1];
      const size_t channels = w.block_row(b1) - w.block_row(b0);
      const size_t count = std::min(grid.chunk_pixels, g->pixels - first);
      float* tile = spmm_out + w.block_row(b0) * g->pixels + first;
      ukernel_->fn(count, channels, spmm_in + first, w.values().data() + w.value_start(b0),
                   g->offsets.data() + w.column_start(b0), w.counts().data() + b0, tile, out_stride, &clamp);
      if (!g->compacts_output()) epilogue.apply(tile, channels, count, out_stride, output);
    });
    if (g->compacts_output()) {
      parallel_for(y.c, [&](size_t c) {
        for (size_t row = 0; row < y.h; row++) {
          float* out_row = out_image + (c * y.h + row) * y.w;
          std::memcpy(out_row, spmm_out + c * g->pixels + row * g->phase_width, y.w * sizeof(float));
          epilogue.apply(out_row, 1, y.w, 0, output);
        }
      });
    }
  }
}

}  // namespace pyprune
