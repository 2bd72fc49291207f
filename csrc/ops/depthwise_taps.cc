// Each input plane is laid out zero-padded in a per-thread buffer, its columns split into
// stride_w phases (padded column c at phase c % stride_w, index c / stride_w; only the phases
// the taps read, so a stride far above the kernel keeps none of the rest): every tap then
// reads one output row's inputs contiguously, the next output row's stride_h padded rows
// further on, and one kernel call computes the plane from a pointer per tap (f32-dwconv2d-taps
// in ukernels.h). The layout costs a copy of the plane, against kernel_h * kernel_w
// multiply-adds per output; its zero padding is cleared once per call, not per plane.
#include "depthwise_taps.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "aligned_buffer.h"
#include "copy_row.h"

namespace pyprune {
namespace {

struct TapsLayout {
  size_t rows;         // padded rows the outputs read, from the first padding row
  size_t stride;       // stride_w: padded column c is index c / stride of phase c % stride
  size_t phases;       // the phases the taps read (those below the dilated kernel's width), kept per row
  size_t phase_width;  // the indices of a phase row the outputs read
  size_t row_floats;   // floats between phase rows: phase_width, the kernel's overread, cache-line rounding
  // Per phase p, the indices [first, last) that hold input columns (m * stride + p - pad_left).
  std::vector<std::pair<size_t, size_t>> inputs;

  TapsLayout(const Window2d& w, const Shape4& x, const Shape4& y)
      : rows((y.h - 1) * w.stride_h + w.extent_h()), stride(w.stride_w), phases(std::min(w.stride_w, w.extent_w())),
        phase_width(pp_divide_round_up((y.w - 1) * w.stride_w + w.extent_w(), w.stride_w)),
        row_floats(pp_round_up(phase_width + PP_DWCONV2D_TAPS_OVERREAD, PP_ALIGNMENT / sizeof(float))) {
    const size_t reach = x.w + w.pad_left;  // one past the last input column, padded
    for (size_t p = 0; p < phases; p++) {
      const size_t last = std::min(phase_width, pp_divide_round_up(reach - std::min(p, reach), stride));
      const size_t first = std::min(last, p >= w.pad_left ? 0 : pp_divide_round_up(w.pad_left - p, stride));
      inputs.emplace_back(first, last);
    }
  }

  size_t floats() const { return rows * phases * row_floats; }
};

// The input values of padded rows [0, rows) of `plane` (input row r - pad_top) into `buffer`,
// phase p of row r at buffer + (r * phases + p) * row_floats: everything else stays as it is,
// zero (the padding is the same for every plane, cleared once).
void lay_out(const Window2d& w, const TapsLayout& l, const float* plane, size_t height, size_t width, float* buffer) {
  const size_t first_row = std::min(l.rows, w.pad_top), end_row = std::min(l.rows, w.pad_top + height);
  for (size_t r = first_row; r < end_row; r++) {
    const float* src = plane + (r - w.pad_top) * width;
    float* row = buffer + r * l.phases * l.row_floats;
    for (size_t p = 0; p < l.phases; p++) {
      const auto [first, last] = l.inputs[p];
      float* dst = row + p * l.row_floats;
      if (l.stride == 1) {
        if (first < last) copy_row(src + first - w.pad_left, last - first, dst + first);
      } else {
        for (size_t m = first; m < last; m++) dst[m] = src[m * l.stride + p - w.pad_left];
      }
    }
  }
}

}  // namespace

void depthwise_taps_planes(const pp_f32_dwconv2d_taps_ukernel& ukernel, const Window2d& w, size_t channels,
                           const float* weights, const Shape4& x, const Shape4& y, const float* input, size_t first,
                           size_t end, float* output, const Epilogue& epilogue) {
  const TapsLayout l(w, x, y);
  thread_local AlignedBuffer buffer;
  thread_local std::vector<const float*> tap_rows;
  buffer.reserve(l.floats());
  std::fill_n(buffer.data(), l.floats(), 0.0f);
  // Tap (i, j) of output (0, 0): padded row i * dilation_h, column j * dilation_w.
  const size_t taps = w.kernel_h * w.kernel_w;
  tap_rows.resize(taps);
  for (size_t i = 0; i < w.kernel_h; i++) {
    for (size_t j = 0; j < w.kernel_w; j++) {
      const size_t row = i * w.dilation_h, column = j * w.dilation_w;
      tap_rows[i * w.kernel_w + j] =
          buffer.data() + (row * l.phases + column % l.stride) * l.row_floats + column / l.stride;
    }
  }
  const size_t row_step = w.stride_h * l.phases * l.row_floats * sizeof(float);
  const pp_f32_minmax_params clamp = epilogue.kernel_clamp();
  for (size_t p = first; p < end; p++) {
    lay_out(w, l, input + p * x.plane(), x.h, x.w, buffer.data());
    float* out = output + p * y.plane();
    ukernel.fn(y.h, y.w, taps, tap_rows.data(), row_step, weights + p % channels * (1 + taps), out,
               y.w * sizeof(float), &clamp);
    epilogue.apply(out, 1, y.plane(), 0, output);
  }
}

}  // namespace pyprune
