// Sparse convolution driver: per image, one SpMM over the (phase-split, zero-padded) input
// (see SparseConvGeometry in pyprune/sparse.h), split into tasks of pixel ranges x ranges of
// weight blocks. The split depends on the shape only, so results do not depend on the number
// of threads.
#include <algorithm>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "aligned_buffer.h"
#include "pyprune/sparse.h"
#include "pyprune/threadpool.h"

namespace pyprune {
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

// Phase planes of one image: plane (ci, a, b) row i column j = padded[ci][s*i + a][s*j + b].
void split_phases(const SparseConv2dShape& s, const SparseConvGeometry& g, const float* input,
                  float* phases) {
  const size_t plane = g.phase_height * g.phase_width;
  parallel_for(s.in_channels, [&](size_t ci) {
    const float* in = input + ci * s.input_height * s.input_width;
    for (size_t a = 0; a < s.stride; a++) {
      for (size_t b = 0; b < s.stride; b++) {
        float* out = phases + (ci * g.phases + a * s.stride + b) * plane;
        for (size_t i = 0; i < g.phase_height; i++) {
          const ptrdiff_t y = static_cast<ptrdiff_t>(s.stride * i + a) - static_cast<ptrdiff_t>(s.padding);
          float* row = out + i * g.phase_width;
          if (y < 0 || y >= static_cast<ptrdiff_t>(s.input_height)) {
            std::fill(row, row + g.phase_width, 0.0f);
            continue;
          }
          const float* src = in + y * s.input_width;
          for (size_t j = 0; j < g.phase_width; j++) {
            const ptrdiff_t x = static_cast<ptrdiff_t>(s.stride * j + b) - static_cast<ptrdiff_t>(s.padding);
            row[j] = x >= 0 && x < static_cast<ptrdiff_t>(s.input_width) ? src[x] : 0.0f;
          }
        }
      }
    }
  });
}

}  // namespace

SparseConvGeometry::SparseConvGeometry(const SparseConv2dShape& s) {
  direct = s.kernel_size == 1 && s.stride == 1 && s.padding == 0;
  phases = s.stride * s.stride;
  phase_height = pp_divide_round_up(s.input_height + 2 * s.padding, s.stride);
  phase_width = pp_divide_round_up(s.input_width + 2 * s.padding, s.stride);
  output_width = s.output_width();
  pixels = (s.output_height() - 1) * phase_width + output_width;
  input_floats = s.in_channels * phases * phase_height * phase_width;
}

std::vector<int32_t> sparse_conv2d_offsets(const SparseConv2dShape& s, const SparseMatrix& w) {
  const SparseConvGeometry g(s);
  if (g.input_floats > static_cast<size_t>(std::numeric_limits<int32_t>::max()) / sizeof(float))
    throw std::length_error("input image too large for sparse convolution (2 GiB per image)");
  const size_t k = s.kernel_size, stride = s.stride, plane = g.phase_height * g.phase_width;
  std::vector<int32_t> offsets(w.column_indices().size());
  for (size_t j = 0; j < offsets.size(); j++) {
    const size_t column = w.column_indices()[j];
    const size_t ci = column / (k * k), kh = column % (k * k) / k, kw = column % k;
    const size_t phase = (kh % stride) * stride + kw % stride;
    const size_t at = (ci * g.phases + phase) * plane + kh / stride * g.phase_width + kw / stride;
    offsets[j] = static_cast<int32_t>(at * sizeof(float));
  }
  return offsets;
}

void sparse_conv2d_nchw(const SparseConv2dShape& s, const SparseMatrix& w, const int32_t* offsets,
                        const float* input, float* output, const pp_f32_minmax_params& params,
                        const pp_f32_spmm_ukernel& ukernel) {
  PP_ASSERT(ukernel.nr == w.block());
  const SparseConvGeometry g(s);
  const size_t oh = s.output_height(), ow = s.output_width();
  const TaskGrid grid = plan_tasks(g.pixels, w, ukernel.mr);
  const size_t groups = grid.group_blocks.size() - 1;
  thread_local AlignedBuffer phase_buffer, wide_buffer;
  if (g.copies_input()) phase_buffer.reserve(g.input_floats);
  if (g.compacts_output()) wide_buffer.reserve(s.out_channels * g.pixels);
  for (size_t n = 0; n < s.batch; n++) {
    const float* image = input + n * s.in_channels * s.input_height * s.input_width;
    float* out_image = output + n * s.out_channels * oh * ow;
    const float* spmm_in = image;
    if (g.copies_input()) {
      split_phases(s, g, image, phase_buffer.data());
      spmm_in = phase_buffer.data();
    }
    float* spmm_out = g.compacts_output() ? wide_buffer.data() : out_image;
    const size_t out_stride = g.pixels * sizeof(float);
    parallel_for(grid.chunks * groups, [&](size_t task) {
      const size_t first = task / groups * grid.chunk_pixels;
      const size_t b0 = grid.group_blocks[task % groups], b1 = grid.group_blocks[task % groups + 1];
      const size_t channels = w.block_row(b1) - w.block_row(b0);
      ukernel.fn(std::min(grid.chunk_pixels, g.pixels - first), channels, spmm_in + first,
                 w.values().data() + w.value_start(b0), offsets + w.column_start(b0),
                 w.counts().data() + b0, spmm_out + w.block_row(b0) * g.pixels + first,
                 out_stride, &params);
    });
    if (g.compacts_output()) {
      parallel_for(s.out_channels, [&](size_t c) {
        for (size_t y = 0; y < oh; y++)
          std::memcpy(out_image + (c * oh + y) * ow, spmm_out + c * g.pixels + y * g.phase_width,
                      ow * sizeof(float));
      });
    }
  }
}

}  // namespace pyprune
