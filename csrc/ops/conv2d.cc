// NCHW convolution driver on the GEMM microkernel: out[group][Cout/g, pixels] =
// W[group][Cout/g, Cin/g * kh * kw] x B, where B is the input itself for 1x1 stride-1
// convolutions and otherwise an im2col panel of a few hundred pixels built per task in a
// per-thread buffer, so it stays in cache while the task's blocks of output channels use it.
// A convolution of several taps builds its panels from phase planes of the padded input
// (Phases): contiguous copies, none of the edge tests an element-wise gather makes per row run
// (1-10 % faster on x86 at stride 1, 7x7 to 112x112; more for strided and grouped ones).
// Each thread takes a range of channels or of pixels (Split). Each block's epilogue (residual,
// activation) runs right after the kernel wrote it. A 3x3 stride-2 padding-1 convolution of
// few channels (an RGB first layer), or a grouped one, where the ISA's kernel beats the GEMM,
// runs on its own kernel where the ISA has one, straight from the input with the same
// packed weights. A convolution of several taps (or a grouped one) of enough channels per group
// runs on a kernel with output channels across the vector lanes where the ISA has one
// (run_outvec): no im2col, a group's channels fill whole vectors instead of leaving GEMM rows
// empty, and its tiles of pixels run across output rows (no padded columns). Inputs that one
// output pixel reads whole go to FullyConnected (a GEMV per image) instead.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

#include "aligned_buffer.h"
#include "cache_sets.h"
#include "copy_row.h"
#include "pyprune/capabilities.h"
#include "pyprune/conv2d.h"
#include "pyprune/threadpool.h"

namespace pyprune {
namespace {

// Residuals above this size are prefetched tile by tile (Conv2d::run).
constexpr size_t kFarResidualBytes = 1024 * 1024;
// The B panel (depth rows x panel pixels) should fit in half of L2 alongside the weights.
constexpr size_t kPanelBytes = 256 * 1024;
// A pointwise panel is the input itself, read in place: on x86, narrower panels keep the rows
// every block streams in L2 beside the outputs it writes (AVX2 on Zen 3: 96 KiB instead of 256
// KiB made MobileNets' pointwise layers 1-15 % faster at 1 and 2 threads and lost on none; im2col
// panels, whose building costs per panel, lost up to 20 % at that size). On AArch64, whose cost
// is counted in instructions, more panels are only more kernel calls (+0.2 % per MobileNet).
#if PYPRUNE_ARCH_AARCH64
constexpr size_t kPointwisePanelBytes = kPanelBytes;
#else
constexpr size_t kPointwisePanelBytes = 96 * 1024;
#endif
// Blocks of output channels a pointwise task needs for its copy into Strips to pay.
constexpr size_t kStripsBlocks = 8;
// A pointwise task that reads its rows in place asks for its share's next panel while it
// multiplies its own, where the layer is this deep and its input larger than L2: its rows, a
// plane apart, are as many streams as the depth, more than the hardware prefetchers follow, so
// every block after the first would wait for rows from L3 or DRAM. AVX-512, 1 thread, the
// requests on and off in one build: ResNet-50's 256 -> 64 layers at 56x56 1.27x faster; none
// measurably at depths of 128 or inputs in L2, and tasks through Strips (their copy) lost 2-4
// %. On AArch64, whose cost is counted in instructions, they would only add to it.
#if PYPRUNE_ARCH_AARCH64
constexpr size_t kPrefetchDepth = SIZE_MAX;
#else
constexpr size_t kPrefetchDepth = 256;
#endif
constexpr size_t kPrefetchInputBytes = 1024 * 1024;
// The depths from which, and the weights up to which, a dense convolution runs on its outvec
// kernel (default_outvec). AVX-512's GEMM, twice AVX2's width per FMA, keeps its layers from
// 256 KiB of weights.
constexpr size_t kOutvecDenseDepth = 32;
constexpr size_t kOutvecDenseWeightBytes = 3 * 512 * 1024;
constexpr size_t kOutvecDenseWeightBytesAvx512 = 256 * 1024;
// Gathering an im2col element costs about as much as streaming this many packed weights.
constexpr size_t kGatherCost = 4;
// Floats a task of a strided 1x1 convolution's gather writes (a few microseconds).
constexpr size_t kGatherTaskFloats = 16 * 1024;

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

// The pixels a strided 1x1 convolution reads, gathered (Conv2d::run): the calling thread's.
float* subsampled_buffer(size_t floats) {
  thread_local AlignedBuffer buffer;
  buffer.reserve(floats);
  return buffer.data();
}

// Pixels per panel of at most `bytes`: a multiple of the kernel's register tile (nr), so only
// the last panel has a ragged edge.
size_t panel_pixels(size_t depth, size_t pixels, size_t nr, size_t bytes) {
  const size_t fit = bytes / (depth * sizeof(float)) / nr * nr;
  return std::min(pixels, std::max(nr, fit));
}

// How the threads share a GEMM's output, blocks of mr channels by pixels: one share per
// thread, each cut into tasks of one panel of pixels and the share's blocks. A share that is a
// range of channels keeps a thread on the same channels as a depthwise layer before or after
// it (each reads what its own core wrote) and reads only its part of the weights; a range of
// pixels keeps it on the same part of the image as the spatial layers around it and builds
// each im2col panel once. The preferred way is taken unless it balances the work worse.
// Either way every output is one kernel call's full dot product: results do not depend on it.
class Split {
 public:
  struct Task {
    size_t first_block, end_block, first, count;  // count 0: nothing (a short share's rest)
  };

  Split(size_t blocks, size_t pixels, size_t panel, size_t nr, size_t threads, bool prefer_pixels)
      : parts(std::max<size_t>(1, threads)), blocks_(blocks), pixels_(pixels), panel_(panel), nr_(nr) {
    // Work per share in blocks or in vectors of 16 pixels, against an even share.
    const size_t vectors = pp_divide_round_up(pixels, 16);
    const double by_blocks = imbalance(blocks), by_pixels = imbalance(vectors);
    by_channels_ = prefer_pixels ? by_pixels > kFair && by_blocks < by_pixels
                                 : by_blocks <= kFair || by_blocks <= by_pixels;
    if (by_channels_) {
      panels = panels_of(pixels);
    } else {
      size_t longest = 0;
      for (size_t k = 0; k < parts; k++) longest = std::max(longest, pixel_bound(k + 1) - pixel_bound(k));
      panels = panels_of(longest);
    }
  }

  // Panel `j` of share `part`.
  Task task(size_t part, size_t j) const {
    if (by_channels_) {
      const auto [first, count] = panel(pixels_, j);
      return {blocks_ * part / parts, blocks_ * (part + 1) / parts, first, count};
    }
    const size_t begin = pixel_bound(part);
    const auto [first, count] = panel(pixel_bound(part + 1) - begin, j);
    return {0, blocks_, begin + first, count};
  }

  size_t parts;   // shares, one per thread
  size_t panels;  // tasks per share

 private:
  static constexpr double kFair = 1.125;
  // The largest share of `units` cut in `parts`, against an even share.
  double imbalance(size_t units) const {
    return units == 0 ? 1.0 : static_cast<double>(pp_divide_round_up(units, parts) * parts) / units;
  }
  // Shares of pixels start at whole vectors.
  size_t pixel_bound(size_t k) const { return std::min(pixels_, pp_round_up(pixels_ * k / parts, 16)); }
  // Panels of a share of `length` pixels: panel_ wide, the last one taking a rest narrower than
  // the kernel's register tile (a task of its own would stream all the weights for it).
  size_t panels_of(size_t length) const {
    const size_t whole = length / panel_;
    return whole == 0 ? 1 : whole + (length % panel_ >= nr_ ? 1 : 0);
  }
  // Panel j of a share of `length` pixels: its first pixel and count (0 past the share's panels).
  std::pair<size_t, size_t> panel(size_t length, size_t j) const {
    const size_t n = panels_of(length), first = std::min(j * panel_, length);
    if (j >= n) return {length, 0};
    return {first, j + 1 == n ? length - first : panel_};
  }

  size_t blocks_, pixels_, panel_, nr_;
  bool by_channels_;
};

// A panel of the GEMM's b copied into pieces of nr columns, the last one nr plus the rest (the
// kernel's own column tails stay with the last full tile), each piece row after row with its
// rows a multiple of 16 floats apart. On x86 a kernel that reads the activations in place loads
// rows a plane apart: they cross cache lines wherever the plane is not a multiple of 16 floats
// (14x14, 7x7), and each row is on a page of its own. From the pieces every block of output
// channels reads aligned lines one after the other. 512 -> 512 channels at 14x14: 40 -> 46
// GMAC/s on AVX2.
class Strips {
 public:
  Strips(size_t depth, size_t count, size_t nr)
      : depth_(depth), count_(count), nr_(nr), pieces_(std::max<size_t>(1, count / nr)) {}

  size_t floats() const {
    const Piece last = piece(pieces_ - 1);
    return last.offset + depth_ * last.stride;
  }

  // Copies b's `count` columns (rows b_stride floats apart) into `to`.
  void pack(const float* b, size_t b_stride, float* to) const {
    for (size_t p = 0; p < pieces_; p++) {
      const Piece piece = this->piece(p);
      const float* src = b + piece.first;
      float* dst = to + piece.offset;
      for (size_t k = 0; k < depth_; k++, src += b_stride, dst += piece.stride) copy_row(src, piece.width, dst);
    }
  }

  // f(first column, columns, piece, row stride in bytes) for each piece of `packed`.
  template <typename F>
  void each(const float* packed, F&& f) const {
    for (size_t p = 0; p < pieces_; p++) {
      const Piece piece = this->piece(p);
      f(piece.first, piece.width, packed + piece.offset, piece.stride * sizeof(float));
    }
  }

 private:
  // Piece p: its first column, its columns, its rows' stride and its place in the copy (floats).
  struct Piece {
    size_t first, width, stride, offset;
  };
  Piece piece(size_t p) const {
    const size_t width = p + 1 == pieces_ ? count_ - (pieces_ - 1) * nr_ : nr_;
    return {p * nr_, width, pp_round_up(width, 16), p * depth_ * pp_round_up(nr_, 16)};
  }

  size_t depth_, count_, nr_, pieces_;
};

// Rows (ci, kh, kw) of the im2col matrix for output pixels [first, first + count) of one
// group's input planes, row_floats apart: row r holds
// input[ci][oy * sh - top + kh * dh][ox * sw - left + kw * dw] or 0 outside the input.
void im2col(const Geometry& g, const float* input, size_t first, size_t count, size_t row_floats, float* panel) {
  const Window2d& w = g.window;
  const size_t ow = g.y.w;
  const ptrdiff_t height = g.x.h, width = g.x.w;
  float* row = panel;
  const size_t first_row = first / ow, first_column = first % ow;
  for (size_t ci = 0; ci < g.channels; ci++) {
    const float* plane = input + ci * g.x.plane();
    for (size_t kh = 0; kh < w.kernel_h; kh++) {
      for (size_t kw = 0; kw < w.kernel_w; kw++, row += row_floats) {
        size_t n = 0;
        for (size_t oy = first_row, ox0 = first_column; n < count; oy++, ox0 = 0) {
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

// dst0[i] = src[x0 + 2 i] and dst1[i] = src[x0 + 2 i + 1] where those columns are inside
// [0, width), else 0, for i < count: both column phases of a stride-2 row in one pass over it
// (LD2 on AArch64), where two gather_row calls would each read the whole row.
inline void deinterleave_row(const float* src, ptrdiff_t width, ptrdiff_t x0, size_t count, float* dst0,
                             float* dst1) {
  const ptrdiff_t n = static_cast<ptrdiff_t>(count);
  // Both columns inside for i in [lo, hi): x0 + 2 i >= 0 and x0 + 2 i + 1 < width.
  const ptrdiff_t lo = x0 >= 0 ? 0 : std::min(n, (1 - x0) / 2);
  const ptrdiff_t hi = x0 >= width ? lo : std::max(lo, std::min(n, (width - x0) / 2));
  auto at = [&](ptrdiff_t x) { return x >= 0 && x < width ? src[x] : 0.0f; };
  for (ptrdiff_t i = 0; i < lo; i++) {
    dst0[i] = at(x0 + 2 * i);
    dst1[i] = at(x0 + 2 * i + 1);
  }
  const float* p = src + x0;
  for (ptrdiff_t i = lo; i < hi; i++) {
    dst0[i] = p[2 * i];
    dst1[i] = p[2 * i + 1];
  }
  for (ptrdiff_t i = hi; i < n; i++) {
    dst0[i] = at(x0 + 2 * i);
    dst1[i] = at(x0 + 2 * i + 1);
  }
}

// A group's input zero-padded and cut into phase planes: plane (channel, a, b) holds
// padded[y * stride_h + a][x * stride_w + b] in rows of `width` floats. Tap (kh, kw) of output
// pixel (oy, ox) is then element (oy + kh * dh / sh) * width + ox + kw * dw / sw of the tap's
// phase plane (kh * dh % sh, kw * dw % sw). The input is read once per task to build the
// planes, the im2col reads them kh * kw / (sh * sw) times. A task builds only the rows of the
// planes its pixels read, and only the phases some tap reads, in its own buffer, where they
// stay in cache for its im2col. The GEMM runs on one of two pixel spaces:
// - padded (a grouped convolution, whose few output channels per group do not amortize an
//   element-wise im2col): pixels oy * width + ox, each output row followed by width - ow
//   columns that are computed and dropped (scatter), so that every im2col row is one
//   contiguous slice of a plane;
// - exact (a dense one, whose many output channels make the dropped columns cost more
//   than copying each output row's run of an im2col row on its own): the output pixels.
struct Phases {
  Phases(const Geometry& g, bool exact) : window(g.window), channels(g.channels), ow(g.y.w), exact(exact) {
    const Window2d& w = g.window;
    padded_h = g.x.h + w.pad_top + w.pad_bottom;
    padded_w = g.x.w + w.pad_left + w.pad_right;
    height = pp_divide_round_up(padded_h, w.stride_h);
    width = pp_divide_round_up(padded_w, w.stride_w);
    pixels = exact ? g.y.plane() : g.y.h == 0 || g.y.w == 0 ? 0 : (g.y.h - 1) * width + ow;
  }
  // Whether the planes pay: unless their rounding adds more than a quarter to the padded input
  // (as strides wider than the input would), or the dropped columns more than a quarter to the
  // GEMM's tiles of nr pixels.
  bool worth(size_t output_pixels, size_t nr) const {
    return output_pixels != 0 && pp_round_up(pixels, nr) * 4 <= pp_round_up(output_pixels, nr) * 5 &&
           rounds_little(padded_h, window.stride_h) && rounds_little(padded_w, window.stride_w);
  }

  // The plane rows [first, end) that pixels [first_pixel, first_pixel + count) read: the rows
  // of their taps, and in padded pixels the next one, which the dropped columns' taps run into.
  struct Rows {
    size_t first, end;
  };
  Rows rows(size_t first_pixel, size_t count) const {
    const size_t line = exact ? ow : width;
    const size_t below = (window.kernel_h - 1) * window.dilation_h / window.stride_h + (exact ? 1 : 2);
    return {first_pixel / line, std::min(height, (first_pixel + count - 1) / line + below)};
  }
  size_t floats(const Rows& r) const {
    return channels * window.stride_h * window.stride_w * (r.end - r.first) * width;
  }

  // Rows `r` of the phase planes of the group's input planes (in_h x in_w each); planes that
  // no tap reads are left as they are.
  void build(const float* input, ptrdiff_t in_h, ptrdiff_t in_w, const Rows& r, float* out) const {
    const Window2d& w = window;
    const size_t plane = (r.end - r.first) * width;
    const ptrdiff_t left = -static_cast<ptrdiff_t>(w.pad_left);
    // Column phases 0 and 1 of a stride-2 row come from one pass over it.
    const bool pairs = w.stride_w == 2 && reads(1, w.kernel_w, w.dilation_w, w.stride_w);
    for (size_t c = 0; c < channels; c++, input += in_h * in_w) {
      for (size_t a = 0; a < w.stride_h; a++) {
        if (!reads(a, w.kernel_h, w.dilation_h, w.stride_h)) continue;
        float* phases = out + (c * w.stride_h + a) * w.stride_w * plane;
        // Plane row y is input row y * sh + a - top, zeros outside the input.
        if (pairs) {
          float* dst = phases;
          for (size_t y = r.first; y < r.end; y++, dst += width) {
            const ptrdiff_t iy = static_cast<ptrdiff_t>(y * w.stride_h + a) - static_cast<ptrdiff_t>(w.pad_top);
            if (iy < 0 || iy >= in_h) {
              std::fill(dst, dst + width, 0.0f);
              std::fill(dst + plane, dst + plane + width, 0.0f);
            } else {
              deinterleave_row(input + iy * in_w, in_w, left, width, dst, dst + plane);
            }
          }
          continue;
        }
        for (size_t b = 0; b < w.stride_w; b++) {
          if (!reads(b, w.kernel_w, w.dilation_w, w.stride_w)) continue;
          float* dst = phases + b * plane;
          const ptrdiff_t x0 = left + static_cast<ptrdiff_t>(b);
          for (size_t y = r.first; y < r.end; y++, dst += width) {
            const ptrdiff_t iy = static_cast<ptrdiff_t>(y * w.stride_h + a) - static_cast<ptrdiff_t>(w.pad_top);
            if (iy < 0 || iy >= in_h)
              std::fill(dst, dst + width, 0.0f);
            else
              gather_row(input + iy * in_w, in_w, x0, w.stride_w, width, dst);
          }
        }
      }
    }
  }

  // Rows (ci, kh, kw) of the im2col matrix for pixels [first, first + count) from rows `r` of
  // the phase planes, row_floats apart.
  void im2col(const float* phases, const Rows& r, size_t first, size_t count, size_t row_floats, float* panel) const {
    const Window2d& w = window;
    const size_t plane = (r.end - r.first) * width;
    // Where the first pixel is in a plane, and (exact pixels) its column.
    const size_t ox = exact ? first % ow : 0;
    const float* start = phases + (exact ? (first / ow - r.first) * width + ox : first - r.first * width);
    // copy(src, row): row `row` of the panel from the tap's slice of its plane at `src`.
    auto taps = [&](auto&& copy) {
      float* row = panel;
      for (size_t ci = 0; ci < channels; ci++) {
        for (size_t kh = 0; kh < w.kernel_h; kh++) {
          const size_t dy = kh * w.dilation_h;
          for (size_t kw = 0; kw < w.kernel_w; kw++, row += row_floats) {
            const size_t dx = kw * w.dilation_w;
            const size_t phase = (ci * w.stride_h + dy % w.stride_h) * w.stride_w + dx % w.stride_w;
            copy(start + phase * plane + dy / w.stride_h * width + dx / w.stride_w, row);
          }
        }
      }
    };
    if (!exact) {
      taps([&](const float* src, float* row) { std::memcpy(row, src, count * sizeof(float)); });
      return;
    }
    // Output row by output row: the first from column ox, the others from column 0.
    taps([&](const float* src, float* row) {
      size_t n = std::min(count, ow - ox);
      copy_row(src, n, row);
      for (src += width - ox; n < count; n += ow, src += width) copy_row(src, std::min(ow, count - n), row + n);
    });
  }

  // Copies the valid pixels of `rows` rows of padded pixels [first, first + count) (rows
  // `count` floats apart) to the output (rows `out_stride` floats apart) and applies the
  // epilogue there.
  void scatter(const float* tile, size_t rows, size_t first, size_t count, float* out, size_t out_stride,
               const Epilogue& epilogue, const float* output) const {
    for (size_t q = first; q < first + count;) {
      const size_t oy = q / width, ox = q % width, end = std::min(first + count, (oy + 1) * width);
      const size_t run = ox < ow ? std::min(end, oy * width + ow) - q : 0;
      if (run != 0) {
        float* dst = out + oy * ow + ox;
        for (size_t r = 0; r < rows; r++)
          std::memcpy(dst + r * out_stride, tile + r * count + (q - first), run * sizeof(float));
        epilogue.apply(dst, rows, run, out_stride * sizeof(float), output);
      }
      q = end;
    }
  }

  Window2d window;
  size_t channels, ow;
  bool exact;
  size_t padded_h, padded_w, height, width;
  size_t pixels;  // the GEMM's

 private:
  // Whether cutting `padded` into phases of `stride` rounds it up by at most a quarter (never a
  // stride past the input: its product with the planes' size may not even fit in size_t).
  static bool rounds_little(size_t padded, size_t stride) {
    if (stride > padded) return false;
    return (pp_divide_round_up(padded, stride) * stride - padded) * 4 <= padded;
  }
  // Whether some tap k < kernel (dilation d) reads phase p of stride s.
  static bool reads(size_t p, size_t kernel, size_t d, size_t s) {
    for (size_t k = 0; k < kernel; k++)
      if (k * d % s == p) return true;
    return false;
  }
};

// A 1x1 unpadded window: strided, it reads every stride-th pixel (subsampling_window); else the
// GEMM reads the input in place (pointwise_window).
bool unpadded_1x1(const Window2d& w) {
  return w.kernel_h == 1 && w.kernel_w == 1 && w.pad_top == 0 && w.pad_left == 0 && w.pad_bottom == 0 &&
         w.pad_right == 0;
}
bool pointwise_window(const Window2d& w) { return unpadded_1x1(w) && w.stride_h == 1 && w.stride_w == 1; }
bool subsampling_window(const Window2d& w) { return unpadded_1x1(w) && (w.stride_h > 1 || w.stride_w > 1); }

// The window the direct 3x3 stride-2 kernels take.
bool window_3x3s2p1(const Window2d& w) {
  return w.kernel_h == 3 && w.kernel_w == 3 && w.stride_h == 2 && w.stride_w == 2 && w.dilation_h == 1 &&
         w.dilation_w == 1 && w.pad_top == 1 && w.pad_left == 1 && w.pad_bottom == 1 && w.pad_right == 1;
}

// The active ISA's direct kernel where it runs the convolution by default: a dense one (an RGB
// first layer) or a grouped one of few enough channels per group that the kernel beats the GEMM.
const pp_f32_conv2d_3x3s2p1_ukernel* default_direct(size_t in_channels, size_t groups, const Window2d& w) {
  if (!window_3x3s2p1(w)) return nullptr;
  const pp_f32_conv2d_3x3s2p1_ukernel* direct = pp_f32_conv2d_3x3s2p1_config();
  if (direct == nullptr) return nullptr;
  return in_channels / groups <= (groups == 1 ? direct->dense : direct->grouped) ? direct : nullptr;
}

// The active ISA's outvec kernel where it runs the convolution by default: at least its
// narrowest row's output channels per group (8, 16 on AVX-512: fewer waste most of a vector;
// pp_f32_conv2d_outvec_config says), and a grouped one other than 1x1 stride 1 (its GEMM reads
// the input in place) or a dense one of several taps whose depth and weights are in
// kOutvecDenseDepth and kOutvecDenseWeightBytes.
// Dense, AVX2 (Zen 3), 1 and 2 threads, time against im2col + GEMM: 3x3 of 16 to 128 outputs
// 0.67-0.97x, 128 -> 256 0.83-1.0x, 5x5 0.86-0.96x, a 7x7 stride-2 RGB layer 0.88-0.92x, 3x3 on 4
// or 8 channels 0.76-0.91x; where the depth is under 32 (3x3 RGB layers: each tile's transposes
// and stores weigh on its few taps) 0.99-1.06x; from 2 MiB of weights (256 -> 256, 512 -> 512),
// where im2col costs the GEMM under 1 %, 1.1-1.17x; 1x1 stride 2, whose gather is one pass over
// the input, 1.2-1.9x.
// AVX-512 (Sapphire Rapids class), 1 thread: 3x3 16 -> 32 at 160x160 stride 2 0.82x, 32 -> 64 at
// 80x80 0.86x, 7x7 stride-2 RGB 0.86x, 3x3 16 -> 16 and 32 -> 32 0.92-0.95x; 64 -> 128 (288 KiB
// of weights) 1.02x and deeper ones up to 1.4x: those keep the GEMM.
const pp_f32_conv2d_outvec_ukernel* default_outvec(size_t out_channels, size_t in_channels, size_t groups,
                                                   const Window2d& w) {
  if (out_channels % groups != 0 || pointwise_window(w)) return nullptr;
  if (groups == 1) {
    const size_t taps = w.kernel_h * w.kernel_w, depth = in_channels * taps;
    const size_t most_bytes =
        pp_active_isa() == pp_isa_avx512 ? kOutvecDenseWeightBytesAvx512 : kOutvecDenseWeightBytes;
    if (taps == 1 || depth < kOutvecDenseDepth || out_channels * depth * sizeof(float) > most_bytes) return nullptr;
  }
  return pp_f32_conv2d_outvec_config(out_channels / groups);
}

// The production GEMM of `isa` (whose packing a direct kernel of that ISA reads).
const pp_f32_gemm_ukernel* production_gemm(pp_isa isa) {
  for (const auto& k : pp_f32_gemm_ukernels())
    if (k.production && k.isa == isa) return &k;
  return nullptr;
}

}  // namespace

Conv2d::Conv2d(size_t out_channels, size_t in_channels, const Window2d& window, size_t groups, const float* weight,
               const float* bias, const pp_f32_gemm_ukernel* ukernel, const pp_f32_conv2d_3x3s2p1_ukernel* direct,
               const pp_f32_conv2d_outvec_ukernel* outvec)
    : out_channels_(out_channels), in_channels_(in_channels), window_(window), groups_(groups),
      ukernel_(ukernel), direct_(nullptr), outvec_(outvec) {
  require(conv2d_window_rejects(window));
  if ((ukernel != nullptr) + (direct != nullptr) + (outvec != nullptr) > 1)
    throw std::invalid_argument("more than one ukernel is given");
  if (direct != nullptr) {
    if (!window_3x3s2p1(window))
      throw std::invalid_argument(std::string("ukernel ") + direct->name +
                                  " takes only a 3x3 kernel, stride 2 and padding 1");
    direct_ = direct;
  } else if (ukernel == nullptr && outvec == nullptr) {
    direct_ = default_direct(in_channels, groups, window);
    if (direct_ == nullptr) outvec_ = default_outvec(out_channels, in_channels, groups, window);
    default_outvec_ = outvec_ != nullptr && groups == 1;
  }
  if (direct_ != nullptr) {
    ukernel_ = production_gemm(direct_->isa);
    if (ukernel_ == nullptr || ukernel_->mr != direct_->mr)
      throw std::logic_error(std::string("ukernel ") + direct_->name + " has no GEMM packing of its MR");
  }
  if (groups < 1 || out_channels % groups != 0 || in_channels % groups != 0 || in_channels == 0)
    throw std::invalid_argument("groups must be at least 1 and divide the " + std::to_string(out_channels) +
                                " output channels and the input channels, got " + std::to_string(groups));
  if (ukernel_ == nullptr) ukernel_ = &pp_f32_gemm_config(depth());
  const size_t taps = checked_mul(window.kernel_h, window.kernel_w, "weight");
  const size_t elements = checked_mul(out_channels, checked_mul(in_channels / groups, taps, "weight"), "weight");
  if (elements > kMaxWeightElements)
    throw std::invalid_argument("weight has " + std::to_string(elements) + " elements, more than the " +
                                std::to_string(kMaxWeightElements) + " a layer may have");
  const size_t mr = tile(), per_group = out_channels / groups, d = depth();
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

bool Conv2d::runs_direct(size_t in_channels, const Window2d& window, size_t groups) {
  return default_direct(in_channels, groups, window) != nullptr;
}

const char* Conv2d::default_ukernel_name(size_t out_channels, size_t in_channels, const Window2d& window,
                                         size_t groups) {
  if (const auto* direct = default_direct(in_channels, groups, window)) return direct->name;
  if (const auto* outvec = default_outvec(out_channels, in_channels, groups, window)) return outvec->name;
  return pp_f32_gemm_config(groups == 0 ? 0 : in_channels / groups * window.kernel_h * window.kernel_w).name;
}

bool Conv2d::pointwise() const { return pointwise_window(window_); }

bool Conv2d::reads_whole_plane(const Shape4& x) const {
  const Window2d& w = window_;
  return groups_ == 1 && x.h == w.kernel_h && x.w == w.kernel_w && w.dilation_h == 1 && w.dilation_w == 1 &&
         w.pad_top == 0 && w.pad_left == 0 && w.pad_bottom == 0 && w.pad_right == 0;
}

const FullyConnected& Conv2d::fully_connected() const {
  std::call_once(panels_->once, [this] {
    const pp_f32_gemv_ukernel& gemv = pp_f32_gemv_config();
    const size_t mr = tile(), d = depth();
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

bool Conv2d::reads_one_pixel(const Shape4& x) const {
  if (x.h != 1 || x.w != 1 || window_.kernel_h * window_.kernel_w <= groups_ || direct_ != nullptr) return false;
  const Shape4 y = window_output(x, out_channels_, window_);
  return y.h * y.w <= window_.kernel_h * window_.kernel_w;  // the linear layer's weights no larger
}

// Output pixel (oy, ox) reads the pixel through tap (ky, kx) where oy * stride - pad + ky *
// dilation = 0, if there is one; the packed blocks give every weight and bias.
const FullyConnected& Conv2d::one_pixel() const {
  std::call_once(pixel_->once, [this] {
    const Window2d& w = window_;
    const Shape4 y = window_output(Shape4{1, in_channels_, 1, 1}, out_channels_, w);
    const size_t mr = tile(), d = depth(), per_in = in_channels_ / groups_, per_out = out_channels_ / groups_;
    const auto tap = [](size_t o, size_t stride, size_t pad, size_t dilation, size_t kernel) -> ptrdiff_t {
      const ptrdiff_t reach = static_cast<ptrdiff_t>(pad) - static_cast<ptrdiff_t>(o * stride);
      if (reach < 0 || reach % static_cast<ptrdiff_t>(dilation) != 0) return -1;
      const ptrdiff_t k = reach / static_cast<ptrdiff_t>(dilation);
      return k < static_cast<ptrdiff_t>(kernel) ? k : -1;
    };
    const size_t rows = out_channels_ * y.h * y.w;
    std::vector<float> weight(rows * in_channels_, 0.0f), bias(rows);
    for (size_t co = 0; co < out_channels_; co++) {
      const size_t g = co / per_out, m = co % per_out;
      const float* block = &packed_[(g * blocks() + m / mr) * mr * (1 + d) + m % mr];
      for (size_t oy = 0; oy < y.h; oy++) {
        for (size_t ox = 0; ox < y.w; ox++) {
          const size_t row = (co * y.h + oy) * y.w + ox;
          bias[row] = block[0];
          const ptrdiff_t ky = tap(oy, w.stride_h, w.pad_top, w.dilation_h, w.kernel_h);
          const ptrdiff_t kx = tap(ox, w.stride_w, w.pad_left, w.dilation_w, w.kernel_w);
          if (ky < 0 || kx < 0) continue;
          const size_t t = static_cast<size_t>(ky) * w.kernel_w + static_cast<size_t>(kx);
          for (size_t c = 0; c < per_in; c++)
            weight[row * in_channels_ + g * per_in + c] = block[mr + (c * w.kernel_h * w.kernel_w + t) * mr];
        }
      }
    }
    pixel_->op = std::make_unique<FullyConnected>(rows, in_channels_, weight.data(), bias.data());
  });
  return *pixel_->op;
}

bool Conv2d::runs_gemm_twin(const Shape4& x) const {
  if (!default_outvec_) return false;
  const Shape4 y = output_shape(x);
  return y.n * y.h * y.w <= kGemmMostPixels;
}

const Conv2d& Conv2d::gemm_twin() const {
  std::call_once(twin_->once, [this] {
    const size_t nc = tile(), d = depth();
    std::vector<float> weight(out_channels_ * d), bias(out_channels_);
    for (size_t co = 0; co < out_channels_; co++) {
      const float* block = &packed_[co / nc * nc * (1 + d) + co % nc];
      bias[co] = block[0];
      for (size_t k = 0; k < d; k++) weight[co * d + k] = block[nc + k * nc];
    }
    twin_->op = std::make_unique<Conv2d>(out_channels_, in_channels_, window_, groups_, weight.data(), bias.data(),
                                         ukernel_);
  });
  return *twin_->op;
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

void Conv2d::run_direct(const Shape4& x_shape, const float* input, float* output, const Epilogue& epilogue) const {
  const Shape4 y = output_shape(x_shape);
  const size_t mr = direct_->mr, blocks = this->blocks(), block_floats = mr * (1 + depth());
  const size_t channels = in_channels_ / groups_, per_group = out_channels_ / groups_, group_blocks = groups_ * blocks;
  const size_t height = x_shape.h, width = x_shape.w, in_image = x_shape.c * x_shape.plane();
  const size_t plane_bytes = y.plane() * sizeof(float);
  const pp_f32_minmax_params clamp = epilogue.kernel_clamp();
  constexpr size_t slack = PP_DWCONV2D_CHW_SAME_SLACK;
  const std::vector<float> zero(width + 2 * slack, 0.0f);
  // The kernel reads `slack` floats around every row it reads, and the caller's array has no
  // room around it. Output rows [top, bottom) read only rows whose surroundings are inside the
  // image (at least `around` rows from its ends) and run on it as it is; the few rows above
  // and below run from copies of the image rows they read, with room around them.
  const size_t around = pp_divide_round_up(slack, width);
  const size_t top = std::min(y.h, (around + 2) / 2);  // row 2y - 1 >= around
  const size_t bottom = std::max(top, height >= around + 2 ? (height - around) / 2 : 0);  // row 2y + 1 < H - around
  // Rows from the top copy (input rows [0, top_rows)), and from the bottom copy (from input row
  // 2 * bottom - 2: even, so that the kernel's output row 1 is `bottom`).
  const size_t top_rows = std::min(height, 2 * top), bottom_from = 2 * bottom - 2, bottom_out = y.h - bottom;
  std::vector<float> top_copy, bottom_copy;
  auto copy_rows = [&](const float* image, size_t first, size_t last, std::vector<float>& to) {
    const size_t rows = last - first;
    to.assign(x_shape.c * rows * width + 2 * slack, 0.0f);
    for (size_t c = 0; c < x_shape.c; c++)
      std::copy_n(image + (c * height + first) * width, rows * width, to.data() + slack + c * rows * width);
  };
  // Tasks: per block of each group, the top rows, the middle rows in chunks of a few (enough of
  // them to share among the threads), the bottom rows.
  const size_t middle = bottom - top;
  const size_t chunk = std::max<size_t>(1, middle * group_blocks / (get_num_threads() * 8));
  const size_t chunks = pp_divide_round_up(middle, chunk), parts = chunks + 1 + (bottom_out != 0);
  for (size_t n = 0; n < x_shape.n; n++) {
    const float* image = input + n * in_image;
    copy_rows(image, 0, top_rows, top_copy);
    if (bottom_out != 0) copy_rows(image, bottom_from, height, bottom_copy);
    float* out = output + n * out_channels_ * y.plane();
    parallel_for(group_blocks * parts, [&](size_t t) {
      const size_t g = t % group_blocks / blocks, block = t % blocks, part = t / group_blocks;
      const size_t m0 = block * mr, count = std::min(mr, per_group - m0);
      const float* w = &packed_[(g * blocks + block) * block_floats];
      float* c = out + (g * per_group + m0) * y.plane();
      // The group's first input plane, in the image and in the copies (top_rows and
      // height - bottom_from rows a plane).
      const size_t first_plane = g * channels;
      if (part == 0) {
        direct_->fn(count, channels, 0, top, top_rows, width, top_copy.data() + slack + first_plane * top_rows * width,
                    w, c, plane_bytes, zero.data() + slack, &clamp);
        epilogue.apply(c, count, top * y.w, plane_bytes, output);
      } else if (part <= chunks) {
        const size_t first = top + (part - 1) * chunk, rows = std::min(chunk, bottom - first);
        direct_->fn(count, channels, first, rows, height, width, image + first_plane * x_shape.plane(), w, c,
                    plane_bytes, zero.data() + slack, &clamp);
        epilogue.apply(c + first * y.w, count, rows * y.w, plane_bytes, output);
      } else {
        // Output rows 1.. of the copy's planes land in a buffer, then in place.
        const size_t out_plane = (bottom_out + 1) * y.w;
        std::vector<float> landing(count * out_plane);
        const size_t rows = height - bottom_from;
        const float* planes = bottom_copy.data() + slack + first_plane * rows * width;
        direct_->fn(count, channels, 1, bottom_out, rows, width, planes, w, landing.data(), out_plane * sizeof(float),
                    zero.data() + slack, &clamp);
        for (size_t m = 0; m < count; m++)
          std::copy_n(&landing[m * out_plane + y.w], bottom_out * y.w, c + m * y.plane() + bottom * y.w);
        epilogue.apply(c + bottom * y.w, count, bottom_out * y.w, plane_bytes, output);
      }
    });
  }
}

void Conv2d::run_outvec(const Shape4& x_shape, const float* input, float* output, const Epilogue& epilogue) const {
  const pp_f32_conv2d_outvec_ukernel& k = *outvec_;
  const Window2d& w = window_;
  const Shape4 y = output_shape(x_shape);
  const size_t channels = in_channels_ / groups_, per_group = out_channels_ / groups_, d = depth();
  const size_t mr = k.mr, nc = k.nc, blocks = this->blocks(), block_floats = nc * (1 + d);
  const size_t pixels = y.plane(), images = x_shape.n * groups_;
  if (pixels == 0) return;
  const size_t width = x_shape.w + w.pad_left + w.pad_right;  // of the padded rows
  // Tasks: output rows by blocks of output channels, enough of them for the threads (4 each).
  // The padded input rows a task reads take at most half an im2col panel's room. Every further
  // part of the rows streams all the group's weights again, every further part of the blocks
  // pads its rows again: where the weights outweigh a task's padded rows (deep layers on small
  // planes: 256 -> 512 @14 1.6x slower cut by rows), the blocks are shared out instead.
  const auto padded_rows = [&](size_t rows) { return (rows - 1) * w.stride_h + (w.kernel_h - 1) * w.dilation_h + 1; };
  const size_t row_floats = channels * w.stride_h * width, wanted = 4 * get_num_threads();
  const size_t by_cache = std::max<size_t>(1, kPanelBytes / 2 / sizeof(float) / std::max<size_t>(1, row_floats));
  size_t rows_per_task = std::min(y.h, by_cache);
  if (blocks * block_floats <= channels * padded_rows(rows_per_task) * width)
    rows_per_task = std::max<size_t>(1, std::min(rows_per_task, y.h * images / wanted));
  const size_t row_parts = pp_divide_round_up(y.h, rows_per_task);
  rows_per_task = pp_divide_round_up(y.h, row_parts);  // parts of even size
  const size_t blocks_per_part =
      pp_divide_round_up(blocks, std::clamp<size_t>(pp_divide_round_up(wanted, images * row_parts), 1, blocks));
  const size_t block_parts = pp_divide_round_up(blocks, blocks_per_part), parts = row_parts * block_parts;
  const pp_f32_minmax_params clamp = epilogue.kernel_clamp();
  parallel_for(images * parts, [&](size_t t) {
    const size_t image = t / parts, first_row = t % parts / block_parts * rows_per_task;
    const size_t first_block = t % block_parts * blocks_per_part;
    const size_t last_block = std::min(blocks, first_block + blocks_per_part);
    const size_t rows = std::min(rows_per_task, y.h - first_row), first = first_row * y.w, count = rows * y.w;
    // The padded input rows the task's output rows read, per channel of the group.
    const ptrdiff_t top = static_cast<ptrdiff_t>(first_row * w.stride_h) - static_cast<ptrdiff_t>(w.pad_top);
    const size_t in_rows = padded_rows(rows);
    const size_t plane = in_rows * width, columns = pp_round_up(count, mr);
    // Room for the planes, the output tile, the taps' offsets and the pixels' pointers.
    constexpr size_t words = sizeof(ptrdiff_t) / sizeof(float);
    float* planes = im2col_buffer(channels * plane + nc * columns + (d + columns + 1) * words);
    float* tile = planes + channels * plane;
    ptrdiff_t* offsets = reinterpret_cast<ptrdiff_t*>(pp_round_up(reinterpret_cast<uintptr_t>(tile + nc * columns),
                                                                  alignof(ptrdiff_t)));
    const float** pointers = reinterpret_cast<const float**>(offsets + d);
    const float* group = input + image * channels * x_shape.plane();
    for (size_t c = 0; c < channels; c++) {
      for (size_t r = 0; r < in_rows; r++) {
        const ptrdiff_t iy = top + static_cast<ptrdiff_t>(r);
        float* dst = planes + c * plane + r * width;
        if (iy < 0 || iy >= static_cast<ptrdiff_t>(x_shape.h))
          std::fill(dst, dst + width, 0.0f);
        else
          gather_row(group + (c * x_shape.h + iy) * x_shape.w, x_shape.w, -static_cast<ptrdiff_t>(w.pad_left), 1,
                     width, dst);
      }
    }
    for (size_t c = 0, i = 0; c < channels; c++)
      for (size_t kh = 0; kh < w.kernel_h; kh++)
        for (size_t kw = 0; kw < w.kernel_w; kw++, i++)
          offsets[i] = static_cast<ptrdiff_t>(c * plane + kh * w.dilation_h * width + kw * w.dilation_w);
    // Each pixel's window in the planes; the last tile's missing pixels repeat the last one.
    for (size_t oy = 0, q = 0; oy < rows; oy++)
      for (size_t ox = 0; ox < y.w; ox++, q++) pointers[q] = planes + oy * w.stride_h * width + ox * w.stride_w;
    std::fill(pointers + count, pointers + columns, pointers[count - 1]);
    for (size_t block = first_block; block < last_block; block++) {
      const float* weights = packed_.data() + (image % groups_ * blocks + block) * block_floats;
      const size_t n = std::min(nc, per_group - block * nc);
      float* out = output + (image * per_group + block * nc) * pixels + first;
      // A block of all nc channels writes its whole tiles of pixels straight to the output; the
      // rest (a ragged last tile, a group's last channels) goes through the tile and is copied.
      const size_t direct = n == nc ? count / mr * mr : 0;
      for (size_t p0 = 0; p0 < direct; p0 += mr)
        k.fn(d, pointers + p0, offsets, weights, out + p0, pixels * sizeof(float), &clamp);
      for (size_t p0 = direct; p0 < count; p0 += mr)
        k.fn(d, pointers + p0, offsets, weights, tile + (p0 - direct), columns * sizeof(float), &clamp);
      for (size_t c = 0; c < n; c++) std::copy_n(tile + c * columns, count - direct, out + c * pixels + direct);
      epilogue.apply(out, n, count, pixels * sizeof(float), output);
    }
  });
}

void Conv2d::run(const Shape4& x_shape, const float* input, float* output, const Epilogue& epilogue) const {
  if (direct_ != nullptr) {
    run_direct(x_shape, input, output, epilogue);
    return;
  }
  if (reads_whole_plane(x_shape)) {
    fully_connected().run(x_shape.n, input, output, epilogue);
    return;
  }
  if (reads_one_pixel(x_shape)) {
    one_pixel().run(x_shape.n, input, output, epilogue);
    return;
  }
  if (runs_gemm_twin(x_shape)) {
    gemm_twin().run(x_shape, input, output, epilogue);
    return;
  }
  if (outvec_ != nullptr) {
    run_outvec(x_shape, input, output, epilogue);
    return;
  }
  const Shape4 y = output_shape(x_shape);
  if (!subsampling_window(window_)) {
    run_gemm(x_shape, window_, y, input, output, epilogue, pointwise());
    return;
  }
  // A strided 1x1 convolution reads one input pixel of each stride_h x stride_w block: those are
  // gathered once, in parallel, into a buffer shaped like the output, which the GEMM then reads
  // in place as a pointwise convolution's input. Through im2col panels instead, each panel
  // gathered row by row before its blocks, it ran 1.15-1.3x this time (AVX2, 1 thread, 64 ->
  // 128 @112 to 512 -> 1024 @28, stride 2).
  const Shape4 gathered{x_shape.n, x_shape.c, y.h, y.w};
  float* b = subsampled_buffer(gathered.elements("x"));
  const size_t planes = x_shape.n * x_shape.c;
  const size_t per_task = std::max<size_t>(1, kGatherTaskFloats / std::max<size_t>(1, gathered.plane()));
  parallel_for(pp_divide_round_up(planes, per_task), [&](size_t task) {
    for (size_t p = task * per_task; p < std::min(planes, (task + 1) * per_task); p++)
      for (size_t oy = 0; oy < y.h; oy++)
        gather_row(input + (p * x_shape.h + oy * window_.stride_h) * x_shape.w, x_shape.w, 0, window_.stride_w, y.w,
                   b + (p * y.h + oy) * y.w);
  });
  run_gemm(gathered, Window2d::square(1, 1, 0), y, b, output, epilogue, true);
}

void Conv2d::run_gemm(const Shape4& x_shape, const Window2d& window, const Shape4& y_shape, const float* input,
                      float* output, const Epilogue& epilogue, bool in_place) const {
  const Geometry s{in_channels_ / groups_, window, x_shape, y_shape};
  const pp_f32_gemm_ukernel& ukernel = *ukernel_;
  const size_t mr = ukernel.mr, d = depth(), per_group = out_channels_ / groups_;
  const size_t blocks = this->blocks(), block_floats = mr * (1 + d);
  const size_t pixels = s.y.plane(), in_plane = x_shape.plane();
  const size_t images = x_shape.n * groups_;
  const float* packed = packed_.data();
  const pp_f32_minmax_params clamp = epilogue.kernel_clamp();
  // Grouped convolutions and those of several taps take their panels from phase planes
  // (Phases); a dense padded 1x1 one gathers them element by element (it reads each input
  // element once either way, and the gather does it in one pass).
  const bool taps = window.kernel_h * window.kernel_w > 1;
  const Phases phases(s, groups_ == 1);
  const bool phased = !in_place && (groups_ > 1 || taps) && phases.worth(pixels, ukernel.nr);
  const size_t space = phased ? phases.pixels : pixels;  // the GEMM's pixels
  const size_t panel = panel_pixels(d, space, ukernel.nr, in_place ? kPointwisePanelBytes : kPanelBytes);

  // Block `block` of image's output channels at pixels [first, first + count) from b: the
  // kernel, then the epilogue (finish).
  auto rows_of = [&](size_t block) { return std::min(mr, per_group - block * mr); };
  auto output_at = [&](size_t image, size_t block, size_t first) {
    return output + (image * per_group + block * mr) * pixels + first;
  };
  auto weights_of = [&](size_t image, size_t block) { return packed + (image % groups_ * blocks + block) * block_floats; };
  auto multiply = [&](size_t image, size_t block, size_t first, size_t count, const float* b, size_t b_stride) {
    ukernel.fn(rows_of(block), count, d, b, b_stride, weights_of(image, block), output_at(image, block, first),
               pixels * sizeof(float), &clamp);
  };
  auto finish = [&](size_t image, size_t block, size_t first, size_t count) {
    epilogue.apply(output_at(image, block, first), rows_of(block), count, pixels * sizeof(float), output);
  };
  // A residual larger than a core's L2 comes from L3 or DRAM (written layers before): the
  // epilogue asks for each tile's before the kernel runs, whose time hides the latency (1x1
  // layers at 56x56 and 28x28 with 1 MiB to 3 MiB residuals, AVX2: 1.03-1.07x). Smaller ones
  // are still in L2, where the requests only cost (0.97x).
  const bool far_residual =
      epilogue.residual() != nullptr && x_shape.n * out_channels_ * pixels * sizeof(float) > kFarResidualBytes;
  auto prefetch = [&](size_t image, size_t block, size_t first, size_t count) {
    if (far_residual)
      epilogue.prefetch(output_at(image, block, first), rows_of(block), count, pixels * sizeof(float), output);
  };
  auto gemm = [&](size_t image, size_t block, size_t first, size_t count, const float* b, size_t b_stride) {
    prefetch(image, block, first, count);
    multiply(image, block, first, count, b, b_stride);
    finish(image, block, first, count);
  };
  // Input planes of image (batch n, group g): channels g * Cin/g onwards of batch n.
  auto group_input = [&](size_t image) { return input + image * s.channels * in_plane; };

  // Threads share pixels unless the weights outweigh the input rows they would read: then each
  // streams its part of the weights instead of all of them. An im2col row costs its gather
  // several times over; a pointwise one is read in place, so its threads share pixels only
  // where the weights are smaller than the input (MobileNets' 28x28 to 112x112 layers: each
  // thread reads half the input instead of all of it; AVX-512, 2 threads, whole models 1.03-
  // 1.06x against channels everywhere) and keep the channels a depthwise layer after them
  // gives them elsewhere.
  const bool prefer_pixels = blocks * block_floats < (in_place ? 1 : kGatherCost) * d * pixels;
  const Split split(blocks, space, panel, ukernel.nr, get_num_threads(), prefer_pixels);
  // Pointwise tasks of several blocks and a depth of 128 or more copy their panel into Strips where
  // the kernel's row says so (f32-gemm.inc): the copy and a kernel call per piece cost more than
  // they gain on shallower layers (1-17 % at depths 16-64). Other tasks on input planes whose
  // rows alias (cache_sets.h) copy their panel's rows further apart, on every ISA: AVX2, 16 -> 32
  // to 64 -> 128 channels at 32x32 to 160x160, 1 thread, 1.1-2.1x faster than in place, and
  // 1.0-1.17x than through strips; on cortex-a72 the copy costs 4-7 % more instructions there,
  // strips 17-45 %.
  const bool deep_strips = ukernel.strips && d >= 128, aliased = in_place && rows_alias(in_plane * sizeof(float));
  const bool prefetch_rows = in_place && d >= kPrefetchDepth && d * in_plane * sizeof(float) > kPrefetchInputBytes;
  parallel_for(split.parts * images * split.panels, [&](size_t t) {
    const size_t part = t / split.panels / images, image = t / split.panels % images;
    const Split::Task task = split.task(part, t % split.panels);
    if (task.count == 0) return;
    // Rows of a panel copied into the per-thread buffer start on cache lines: at 7x7 and 14x14
    // most of the kernel's loads would otherwise cross two (512 -> 512 channels 3x3 at 7x7: 42 ->
    // 49 GMAC/s on AVX-512).
    const size_t row_floats = pp_round_up(task.count, PP_ALIGNMENT / sizeof(float));
    // A pointwise task multiplies the input where it is; the others first gather the panel's
    // im2col rows into a per-thread buffer.
    if (in_place) {
      const float* b = group_input(image) + task.first;
      if (!deep_strips || task.end_block - task.first_block < kStripsBlocks) {
        if (!aliased) {
          // The share's next panel (a thread runs its share's tasks in order, parallel_for's
          // ranges being contiguous), its rows asked for a block's share at a time.
          const size_t j = t % split.panels, blocks = task.end_block - task.first_block;
          const Split::Task next = prefetch_rows && j + 1 < split.panels ? split.task(part, j + 1) : Split::Task{};
          const char* next_rows = reinterpret_cast<const char*>(group_input(image) + next.first);
          for (size_t block = task.first_block; block < task.end_block; block++) {
            const size_t i = block - task.first_block;
            for (size_t k = i * d / blocks; next.count != 0 && k < (i + 1) * d / blocks; k++)
              for (size_t byte = 0; byte < next.count * sizeof(float); byte += PP_ALIGNMENT)
                __builtin_prefetch(next_rows + k * in_plane * sizeof(float) + byte);
            gemm(image, block, task.first, task.count, b, in_plane * sizeof(float));
          }
          return;
        }
        const size_t row_stride = unaliased_stride(row_floats);
        float* rows = im2col_buffer(d * row_stride);
        for (size_t k = 0; k < d; k++) copy_row(b + k * in_plane, task.count, rows + k * row_stride);
        for (size_t block = task.first_block; block < task.end_block; block++)
          gemm(image, block, task.first, task.count, rows, row_stride * sizeof(float));
        return;
      }
      const Strips pieces(d, task.count, ukernel.nr);
      float* packed_b = im2col_buffer(pieces.floats());
      pieces.pack(b, in_plane, packed_b);
      for (size_t block = task.first_block; block < task.end_block; block++) {
        prefetch(image, block, task.first, task.count);
        pieces.each(packed_b, [&](size_t first, size_t count, const float* piece, size_t stride) {
          multiply(image, block, task.first + first, count, piece, stride);
        });
        finish(image, block, task.first, task.count);
      }
      return;
    }
    const size_t stride = row_floats * sizeof(float), panel_floats = d * row_floats;
    if (!phased) {
      float* b = im2col_buffer(panel_floats);
      im2col(s, group_input(image), task.first, task.count, row_floats, b);
      for (size_t block = task.first_block; block < task.end_block; block++)
        gemm(image, block, task.first, task.count, b, stride);
      return;
    }
    // Room for the panel, a tile of padded pixels (their dropped columns go nowhere in the
    // output) and the planes.
    const size_t tile_floats = phases.exact ? 0 : mr * task.count;
    const Phases::Rows span = phases.rows(task.first, task.count);
    float* b = im2col_buffer(panel_floats + tile_floats + phases.floats(span));
    float* tile = b + panel_floats;
    float* planes = tile + tile_floats;
    phases.build(group_input(image), x_shape.h, x_shape.w, span, planes);
    phases.im2col(planes, span, task.first, task.count, row_floats, b);
    for (size_t block = task.first_block; block < task.end_block; block++) {
      if (phases.exact) {
        gemm(image, block, task.first, task.count, b, stride);
        continue;
      }
      ukernel.fn(rows_of(block), task.count, d, b, stride, weights_of(image, block), tile, task.count * sizeof(float),
                 &clamp);
      phases.scatter(tile, rows_of(block), task.first, task.count, output_at(image, block, 0), pixels, epilogue,
                     output);
    }
  });
}

}  // namespace pyprune
