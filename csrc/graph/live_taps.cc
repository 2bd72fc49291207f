#include "live_taps.h"

#include <algorithm>
#include <utility>

#include "pyprune/capabilities.h"

namespace pyprune::graph {
namespace {

// Taps [first, last) of one axis (kernel k, dilation d, stride s, padding before `pad`, n inputs,
// o outputs) that read some input: tap i reads padded positions i d + y s, y < o. The range is
// kept whole where its stride skips the input between them: never a live tap dropped.
std::pair<size_t, size_t> live(size_t k, size_t d, size_t s, size_t pad, size_t n, size_t o) {
  size_t first = k, last = 0;
  for (size_t i = 0; i < k; i++) {
    if (i * d + (o - 1) * s >= pad && i * d < pad + n) {
      first = std::min(first, i);
      last = i + 1;
    }
  }
  return {first, last};
}

}  // namespace

std::optional<LiveTaps> live_taps(const Window2d& w, const Shape4& x) {
  const Shape4 y = window_output(x, 1, w);
  const auto [top, bottom] = live(w.kernel_h, w.dilation_h, w.stride_h, w.pad_top, x.h, y.h);
  const auto [left, right] = live(w.kernel_w, w.dilation_w, w.stride_w, w.pad_left, x.w, y.w);
  if (top >= bottom || left >= right) return std::nullopt;  // every tap reads only padding
  if (bottom - top == w.kernel_h && right - left == w.kernel_w) return std::nullopt;
  // The dropped taps' reach must come off the padding, not off the input.
  if (top * w.dilation_h > w.pad_top || (w.kernel_h - bottom) * w.dilation_h > w.pad_bottom ||
      left * w.dilation_w > w.pad_left || (w.kernel_w - right) * w.dilation_w > w.pad_right)
    return std::nullopt;
  const LiveTaps t{top, bottom - top, left, right - left};
  if (!conv2d_window_rejects(live_window(w, t)).empty()) return std::nullopt;
  return t;
}

Window2d live_window(const Window2d& w, const LiveTaps& t) {
  Window2d v = w;
  v.kernel_h = t.rows;
  v.kernel_w = t.cols;
  v.pad_top -= t.first_row * w.dilation_h;
  v.pad_bottom -= (w.kernel_h - t.first_row - t.rows) * w.dilation_h;
  v.pad_left -= t.first_col * w.dilation_w;
  v.pad_right -= (w.kernel_w - t.first_col - t.cols) * w.dilation_w;
  if (t.rows == 1) v.dilation_h = 1;  // one tap: its dilation means nothing
  if (t.cols == 1) v.dilation_w = 1;
  return v;
}

std::vector<float> live_weight(const float* weight, size_t filters, size_t channels, const Window2d& w,
                               const LiveTaps& t) {
  std::vector<float> live;
  live.reserve(filters * channels * t.rows * t.cols);
  for (size_t f = 0; f < filters * channels; f++)
    for (size_t i = t.first_row; i < t.first_row + t.rows; i++) {
      const float* row = weight + (f * w.kernel_h + i) * w.kernel_w + t.first_col;
      live.insert(live.end(), row, row + t.cols);
    }
  return live;
}

}  // namespace pyprune::graph
