// Winograd convolution driver (see WinogradConv2d in pyprune/winograd_conv2d.h). The output
// tiles of the whole batch, numbered image by image and row by row, are split into blocks of
// T tiles; a block is the unit of work:
//  1. input transform: the block's tiles run in rows of tiles (segments); consecutive segments
//     of one image make a band. For each input channel, the input rows a band covers are
//     copied once, with their zero padding, into a strip, and the transform of each of its
//     segments is stored as V[position][channel][tile] (T floats per row);
//  2. per block of mr output channels: alpha^2 GEMMs M[p] = U[p] x V[p] (mr x T each; V[p]'s
//     rows of the block's group, all of them when there is one group), then the output
//     transform of those mr channels, segment by segment, straight into the output.
// V (alpha^2 x Cin x T floats) is the scratch that must stay in L2: T is chosen for it. Tasks
// are (block of tiles, range of output channels); a range of a grouped convolution's whole
// groups transforms only their input channels. The split depends on the shape only, and a
// thread that runs several ranges of one block transforms its input once, so results do not
// depend on the number of threads.
// A dilated convolution (padding a multiple of the dilation) is the same convolution undilated
// on the input's phases: with dilation (dh, dw), output row dh i + a reads only input rows
// dh (i + k - top / dh) + a, so phase (a, b) of the input (rows a, a + dh, ..., columns b,
// b + dw, ...) convolved with padding / dilation gives phase (a, b) of the output. The phases
// are gathered as a batch of N dh dw images (the short ones zero-filled to the longest), run as
// above and scattered back.
#include "pyprune/winograd_conv2d.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>

#include "aligned_buffer.h"
#include "copy_row.h"
#include "pyprune/capabilities.h"
#include "pyprune/threadpool.h"
#include "pyprune/winograd.h"

namespace pyprune {
namespace {

// Bytes of transformed input (V) per block: half of a 1 MiB L2, the rest for the GEMM's
// weight stream and the output rows.
constexpr size_t kBlockBytes = 512 * 1024;
// Enough tasks to balance two to eight threads: the tiles are cut into this many blocks where
// the GEMM's register tile allows; fewer blocks than this are split by ranges of at least
// kMinChunkChannels output channels. A layer of one block is split at half that: each chunk's
// thread transforms the block's input again, which costs less than an idle core (YOLOv8's 64
// channels at 20x20 on AVX-512, whose 32-tile register tile makes its 25 tiles one block: 2
// threads ran it at 1.0x of one, now 1.5-1.7x).
constexpr size_t kMinTasks = 8;
constexpr size_t kMinChunkChannels = 64;

const pp_f32_minmax_params kNoClamp = {-std::numeric_limits<float>::infinity(),
                                       std::numeric_limits<float>::infinity()};

// U = G g G^T of one 3x3 filter, in double precision.
template <size_t M>
void transform_filter(const float* g, double* u) {
  using W = winograd::Matrices<M>;
  constexpr size_t A = W::kAlpha;
  double gg[A][3];
  for (size_t i = 0; i < A; i++)
    for (size_t j = 0; j < 3; j++) gg[i][j] = W::G[i][0] * g[j] + W::G[i][1] * g[3 + j] + W::G[i][2] * g[6 + j];
  for (size_t i = 0; i < A; i++)
    for (size_t j = 0; j < A; j++) u[i * A + j] = gg[i][0] * W::G[j][0] + gg[i][1] * W::G[j][1] + gg[i][2] * W::G[j][2];
}

void transform_filter(size_t tile, const float* g, double* u) {
  if (tile == 4) {
    transform_filter<4>(g, u);
  } else {
    transform_filter<6>(g, u);
  }
}

// A run of a block's tiles in one row of tiles of one image.
struct Segment {
  size_t image, tile_row, tile_col, count;
  size_t offset;  // of its first tile in the block
};

// Consecutive segments [first, end) of one image, whose input rows are copied together: tile
// rows [tile_row, tile_row + tile_rows), tile columns [tile_col, tile_col + tile_cols).
struct Band {
  size_t image, tile_row, tile_rows, tile_col, tile_cols;
  size_t first, end;
};

struct Plan {
  size_t tile, alpha, positions;
  Shape4 x, y;
  size_t tiles_h, tiles_w, tiles;  // tiles per column, per row, in the whole batch
  size_t block_tiles, blocks;      // T, and blocks of T tiles (the last may have fewer)
  size_t mr, channel_blocks;       // GEMM blocks of mr output channels
  size_t group_blocks, group_in;   // channel blocks and input channels of a group
  size_t chunk_blocks, chunks;     // channel blocks per task, and tasks per block of tiles
  size_t task_in;                  // input channels a task transforms, at most
  size_t strip_stride, strip_rows;  // floats per strip row, rows of the strip (a band's at most)
  size_t v_row;                    // floats per row of V (T)
  size_t v_stride, m_stride;       // floats per position of V (task_in x v_row and room) and of M (mr x T)

  // The input channels [first, end) that channel blocks [first_block, end_block) read: their
  // groups'.
  std::pair<size_t, size_t> inputs_of(size_t first_block, size_t end_block) const {
    return {first_block / group_blocks * group_in, pp_divide_round_up(end_block, group_blocks) * group_in};
  }

  std::vector<Segment> segments(size_t block) const {
    std::vector<Segment> all;
    const size_t first = block * block_tiles, end = std::min(tiles, first + block_tiles);
    const size_t per_image = tiles_h * tiles_w;
    for (size_t t = first; t < end;) {
      const size_t image = t / per_image, row = t % per_image / tiles_w, col = t % tiles_w;
      const size_t count = std::min(end - t, tiles_w - col);
      all.push_back({image, row, col, count, t - first});
      t += count;
    }
    return all;
  }
  // The segments grouped into bands: a segment joins the band before it when it is in the same
  // image and the band's columns still fit a strip row.
  std::vector<Band> bands(const std::vector<Segment>& segments) const {
    std::vector<Band> all;
    const size_t most_cols = std::min(block_tiles, tiles_w);
    for (size_t i = 0; i < segments.size(); i++) {
      const Segment& s = segments[i];
      if (!all.empty()) {
        Band& b = all.back();
        const size_t col = std::min(b.tile_col, s.tile_col);
        const size_t end = std::max(b.tile_col + b.tile_cols, s.tile_col + s.count);
        if (s.image == b.image && end - col <= most_cols) {
          b = {b.image, b.tile_row, s.tile_row + 1 - b.tile_row, col, end - col, b.first, i + 1};
          continue;
        }
      }
      all.push_back({s.image, s.tile_row, 1, s.tile_col, s.count, i, i + 1});
    }
    return all;
  }
  size_t block_size(size_t block) const { return std::min(block_tiles, tiles - block * block_tiles); }
};

Plan make_plan(size_t tile, size_t in_channels, size_t groups, size_t group_blocks, size_t mr, size_t nr,
               const Shape4& x, const Shape4& y) {
  Plan p;
  p.tile = tile;
  p.alpha = tile + 2;
  p.positions = p.alpha * p.alpha;
  p.x = x;
  p.y = y;
  p.tiles_h = pp_divide_round_up(y.h, tile);
  p.tiles_w = pp_divide_round_up(y.w, tile);
  p.tiles = checked_mul(checked_mul(y.n, p.tiles_h, "the output"), p.tiles_w, "the output");
  p.mr = mr;
  p.group_blocks = group_blocks;
  p.group_in = in_channels / groups;
  p.channel_blocks = groups * group_blocks;
  // A task's range of whole groups transforms only those groups' input channels, so the groups
  // are split first (up to kMinTasks ranges), at no cost.
  const size_t group_chunks = std::min(groups, kMinTasks);
  const size_t chunk_groups = pp_divide_round_up(groups, group_chunks);
  p.task_in = chunk_groups * p.group_in;
  // As many tiles as fit kBlockBytes, a multiple of the GEMM's register tile (at least one),
  // so that only the last block leaves the GEMM a column tail; and, with the ranges of groups,
  // at least kMinTasks tasks where there are tiles enough, so that layers of few tiles and
  // channels (YOLOv8's 32 and 64 channels at 40x40 and 20x20, one block before) have a task for
  // every thread: 2 threads ran them at 1.0x of one, and the whole model gained 11 %.
  const size_t fit = kBlockBytes / (p.positions * p.task_in * sizeof(float)) / nr * nr;
  const size_t share = pp_round_up(pp_divide_round_up(p.tiles, pp_divide_round_up(kMinTasks, group_chunks)), nr);
  p.block_tiles = std::min({p.tiles, std::max(nr, fit), share});
  p.blocks = pp_divide_round_up(p.tiles, p.block_tiles);
  if (groups > 1) {
    p.chunk_blocks = chunk_groups * group_blocks;
  } else {
    // Still too few tasks: ranges of output channels, each of which transforms the block's
    // whole input again.
    const size_t chunk_channels = p.blocks == 1 ? kMinChunkChannels / 2 : kMinChunkChannels;
    const size_t most_chunks = std::max<size_t>(1, p.channel_blocks * mr / chunk_channels);
    p.chunk_blocks = pp_divide_round_up(p.channel_blocks, std::min(most_chunks, pp_divide_round_up(kMinTasks, p.blocks)));
  }
  p.chunks = pp_divide_round_up(p.channel_blocks, p.chunk_blocks);
  p.strip_stride = pp_round_up(std::min(p.block_tiles, p.tiles_w), PP_WINOGRAD_TILE_GROUP) * tile + p.alpha;
  // A block's T consecutive tiles touch at most T / tiles_w + 2 rows of tiles of an image.
  p.strip_rows = std::min(p.tiles_h, p.block_tiles / p.tiles_w + 2) * tile + 2;
  // Rows of V back to back: a GEMM 4 tiles wide loads four rows at once. An input transform's
  // extra lanes (ukernels.h) land past its row, in one written after it (see run_undilated), or
  // in the room after the last.
  p.v_row = p.block_tiles;
  // Positions one cache line off a multiple of 64 bytes: at a power-of-two stride (Cin = 64,
  // say) the alpha^2 rows an input transform writes would share a few L1 sets.
  p.v_stride = pp_round_up(p.task_in * p.v_row, 16) + 16;
  p.m_stride = pp_round_up(mr * p.block_tiles, 16) + 16;
  return p;
}

// Per-thread scratch: V, then M, then the strip, each 64-byte aligned; zero-filled when
// allocated, so what the kernels may read past the data is always initialised.
struct WinogradScratch {
  float *v, *m, *strip;
};

WinogradScratch scratch(const Plan& p) {
  thread_local AlignedBuffer buffer;
  const size_t v = p.positions * p.v_stride, m = p.positions * p.m_stride;
  // A segment that starts inside a band row has its extra lanes' reads (ukernels.h) run on into the
  // next row, past the last one by less than a group.
  const size_t strip = p.strip_rows * p.strip_stride + PP_WINOGRAD_TILE_GROUP * p.tile;
  const size_t floats = checked_add(checked_add(v, m, "scratch"), strip, "scratch");
  if (buffer.reserve(floats)) std::memset(buffer.data(), 0, floats * sizeof(float));
  return {buffer.data(), buffer.data() + v, buffer.data() + v + m};
}

// Where a band's patches lie in its channels' input planes: strip rows [top, bottom) and
// columns [lo, hi) are inside the input, the rest is zero padding.
struct StripWindow {
  size_t rows, width;  // of the strip
  size_t top, bottom, lo, hi;
  ptrdiff_t y0, x0;  // input row and column of the strip's first row and column

  StripWindow(const Plan& p, const std::array<size_t, 4>& padding, const Band& b)
      : rows(b.tile_rows * p.tile + 2), width(b.tile_cols * p.tile + 2),
        y0(static_cast<ptrdiff_t>(b.tile_row * p.tile) - static_cast<ptrdiff_t>(padding[0])),
        x0(static_cast<ptrdiff_t>(b.tile_col * p.tile) - static_cast<ptrdiff_t>(padding[1])) {
    const auto inside = [](ptrdiff_t first, ptrdiff_t size, size_t n) {
      return std::pair<size_t, size_t>(std::clamp<ptrdiff_t>(-first, 0, n), std::clamp<ptrdiff_t>(size - first, 0, n));
    };
    std::tie(top, bottom) = inside(y0, p.x.h, rows);
    std::tie(lo, hi) = inside(x0, p.x.w, width);
    bottom = std::max(top, bottom);
    hi = std::max(lo, hi);
  }

  // The padding, the same for every channel: once per band.
  void zero(const Plan& p, float* strip) const {
    for (size_t i = 0; i < rows; i++) {
      float* row = strip + i * p.strip_stride;
      if (i < top || i >= bottom) {
        std::fill(row, row + width, 0.0f);
      } else {
        std::fill(row, row + lo, 0.0f);
        std::fill(row + hi, row + width, 0.0f);
      }
    }
  }

  // The input part of one channel's rows.
  void copy(const Plan& p, const float* plane, float* strip) const {
    if (hi == lo) return;
    const float* in = plane + (y0 + static_cast<ptrdiff_t>(top)) * static_cast<ptrdiff_t>(p.x.w) + x0 + lo;
    for (size_t i = top; i < bottom; i++, in += p.x.w) copy_row(in, hi - lo, strip + i * p.strip_stride + lo);
  }
};

// The key of the block and input channels whose transform a thread's V holds: unique per run.
struct Transformed {
  uint64_t run = 0;
  size_t block = 0, first_input = 0;
};

// f(i, j) for every element j of the phases (shape `part`: the batch of N dh dw images, image
// n dh dw + a dw + b holding rows a, a + dh, ... and columns b, b + dw, ... of image n) of a
// tensor of shape `full`, i its element there, or kOutside past the last row or column.
constexpr size_t kOutside = ~size_t{0};
template <class F>
void each_phase_element(const Shape4& full, const Shape4& part, size_t dh, size_t dw, const F& f) {
  parallel_for(full.n * full.c, [&](size_t t) {
    const size_t n = t / full.c, c = t % full.c;
    for (size_t phase = 0; phase < dh * dw; phase++) {
      const size_t a = phase / dw, b = phase % dw;
      const size_t at = ((n * dh * dw + phase) * full.c + c) * part.plane();
      for (size_t i = 0; i < part.h; i++) {
        const size_t row = i * dh + a;
        for (size_t j = 0; j < part.w; j++) {
          const size_t col = j * dw + b;
          f(row < full.h && col < full.w ? t * full.plane() + row * full.w + col : kOutside, at + i * part.w + j);
        }
      }
    }
  });
}

std::atomic<uint64_t> runs{0};

}  // namespace

size_t WinogradConv2d::default_tile() { return 4; }

WinogradConv2d::WinogradConv2d(size_t out_channels, size_t in_channels, const std::array<size_t, 4>& padding,
                               const float* weight, const float* bias, size_t tile,
                               const std::array<size_t, 2>& dilation, size_t groups)
    : out_channels_(out_channels), in_channels_(in_channels), groups_(groups), padding_(padding), dilation_(dilation),
      tile_(tile != 0 ? tile : default_tile()), gemm_(&pp_f32_gemm_config()) {
  if (out_channels == 0 || in_channels == 0)
    throw std::invalid_argument("weight must have at least one output and one input channel");
  if (groups == 0 || in_channels % groups != 0 || out_channels % groups != 0)
    throw std::invalid_argument("groups must divide in_channels (" + std::to_string(in_channels) +
                                ") and out_channels (" + std::to_string(out_channels) + "), got " +
                                std::to_string(groups));
  require(winograd_conv2d_rejects({3, 3}, {1, 1},
                                  {static_cast<int64_t>(dilation[0]), static_cast<int64_t>(dilation[1])}, 1,
                                  {static_cast<int64_t>(padding[0]), static_cast<int64_t>(padding[1]),
                                   static_cast<int64_t>(padding[2]), static_cast<int64_t>(padding[3])}));
  require(winograd_tile_rejects(static_cast<int64_t>(tile_)));
  input_ = pp_f32_winograd_input_config(tile_);
  output_ = pp_f32_winograd_output_config(tile_);
  const size_t mr = gemm_->mr, alpha = tile_ + 2, positions = alpha * alpha;
  const size_t cin = in_channels / groups, cout = out_channels / groups;
  group_blocks_ = pp_divide_round_up(cout, mr);
  // Many small groups pad their output channels to the GEMM's blocks many times over: the
  // transformed copy is what is bounded.
  const size_t floats = packed_floats(out_channels, in_channels, tile_, groups);
  if (checked_mul(out_channels, cin, "weight") > kMaxWeightElements / 9 || floats > kMaxWeightElements)
    throw std::invalid_argument("weight of " + std::to_string(out_channels) + "x" + std::to_string(cin) +
                                "x3x3 in " + std::to_string(groups) +
                                " group(s) is too large for Winograd: its transformed copy would have " +
                                (floats == SIZE_MAX ? std::string("more") : std::to_string(floats)) +
                                " elements, more than the " + std::to_string(kMaxWeightElements) +
                                " a layer may have");
  packed_.assign(floats, 0.0f);
  const size_t block_floats = mr * (cin + 1);
  std::vector<double> u(positions);
  for (size_t co = 0; co < out_channels; co++) {
    const size_t g = co / cout, r = co % cout;
    float* block = packed_.data() + (g * group_blocks_ + r / mr) * positions * block_floats;
    for (size_t ci = 0; ci < cin; ci++) {
      transform_filter(tile_, weight + (co * cin + ci) * 9, u.data());
      for (size_t p = 0; p < positions; p++) block[p * block_floats + mr + ci * mr + r % mr] = static_cast<float>(u[p]);
    }
  }
  bias_.assign(out_channels, 0.0f);
  if (bias != nullptr) std::copy(bias, bias + out_channels, bias_.begin());
}

size_t WinogradConv2d::packed_floats(size_t out_channels, size_t in_channels, size_t tile, size_t groups) {
  if (groups == 0 || in_channels / groups == SIZE_MAX) return SIZE_MAX;
  const size_t mr = pp_f32_gemm_config().mr, alpha = (tile != 0 ? tile : default_tile()) + 2;
  const size_t group_blocks = pp_divide_round_up(out_channels / groups, mr), cin = in_channels / groups;
  size_t floats = 0;
  if (__builtin_mul_overflow(groups, group_blocks, &floats) ||
      __builtin_mul_overflow(floats, alpha * alpha * mr, &floats) || __builtin_mul_overflow(floats, cin + 1, &floats))
    return SIZE_MAX;
  return floats;
}

Shape4 WinogradConv2d::output_shape(const Shape4& x) const {
  if (x.c != in_channels_)
    throw std::invalid_argument("x must have " + std::to_string(in_channels_) + " channels, got shape " + to_string(x));
  const size_t h = checked_add(checked_add(x.h, padding_[0], "x"), padding_[2], "x");
  const size_t w = checked_add(checked_add(x.w, padding_[1], "x"), padding_[3], "x");
  const size_t kh = 2 * dilation_[0] + 1, kw = 2 * dilation_[1] + 1;  // the dilated kernel's extent
  if (h < kh || w < kw) {
    const std::string extent = kh == 3 && kw == 3 ? "" : " (" + std::to_string(kh) + "x" + std::to_string(kw) + " dilated)";
    throw std::invalid_argument("x of size " + std::to_string(x.h) + "x" + std::to_string(x.w) +
                                " is smaller than the 3x3 kernel" + extent + " even with padding (" +
                                std::to_string(padding_[0]) + ", " + std::to_string(padding_[1]) + ", " +
                                std::to_string(padding_[2]) + ", " + std::to_string(padding_[3]) + ")");
  }
  Shape4 y{x.n, out_channels_, h - kh + 1, w - kw + 1};
  y.elements("the output");
  return y;
}

void WinogradConv2d::run(const Shape4& x_shape, const float* x, float* y, const Epilogue& epilogue) const {
  const Shape4 y_shape = output_shape(x_shape);
  if (dilation_[0] == 1 && dilation_[1] == 1) {
    run_undilated(x_shape, x, y_shape, y, padding_, epilogue);
    return;
  }
  const size_t dh = dilation_[0], dw = dilation_[1], phases = dh * dw;
  const std::array<size_t, 4> padding = {padding_[0] / dh, padding_[1] / dw, padding_[2] / dh, padding_[3] / dw};
  const Shape4 xs_shape{checked_mul(x_shape.n, phases, "x"), x_shape.c, pp_divide_round_up(x_shape.h, dh),
                        pp_divide_round_up(x_shape.w, dw)};
  const Shape4 ys_shape{xs_shape.n, out_channels_, xs_shape.h + padding[0] + padding[2] - 2,
                        xs_shape.w + padding[1] + padding[3] - 2};
  thread_local AlignedBuffer xs_buffer, ys_buffer;
  xs_buffer.reserve(xs_shape.elements("the input's phases"));
  ys_buffer.reserve(ys_shape.elements("the output's phases"));
  float* const xs = xs_buffer.data();
  float* const ys = ys_buffer.data();
  each_phase_element(x_shape, xs_shape, dh, dw, [&](size_t i, size_t j) { xs[j] = i != kOutside ? x[i] : 0.0f; });
  // An activation is per element: it runs on the phases; a residual is added after the scatter.
  const bool residual = epilogue.residual() != nullptr;
  run_undilated(xs_shape, xs, ys_shape, ys, padding, residual ? Epilogue() : epilogue);
  each_phase_element(y_shape, ys_shape, dh, dw, [&](size_t i, size_t j) {
    if (i != kOutside) y[i] = ys[j];
  });
  if (residual) {
    parallel_for(y_shape.n * y_shape.c, [&](size_t t) {
      epilogue.apply(y + t * y_shape.plane(), 1, y_shape.plane(), 0, y);
    });
  }
}

void WinogradConv2d::run_undilated(const Shape4& x_shape, const float* x, const Shape4& y_shape, float* y,
                                   const std::array<size_t, 4>& padding, const Epilogue& epilogue) const {
  // The output transform adds the residual and clamps; another activation follows on each tile
  // just written, while it is in cache.
  const Activation& activation = epilogue.activation();
  const pp_f32_minmax_params params = activation.minmax();
  const Epilogue after(activation.is_minmax() ? Activation{} : activation);
  const float* residual = epilogue.residual();
  const Plan p = make_plan(tile_, in_channels_, groups_, group_blocks_, gemm_->mr, gemm_->nr, x_shape, y_shape);
  const size_t cin = in_channels_, cout = out_channels_, mr = p.mr, T = p.block_tiles;
  const size_t group_cin = cin / groups_, group_cout = cout / groups_;
  const size_t block_floats = mr * (group_cin + 1), in_plane = p.x.plane(), out_plane = p.y.plane();
  const uint64_t run = ++runs;

  parallel_for(p.blocks * p.chunks, [&](size_t task) {
    const size_t block = task / p.chunks, chunk = task % p.chunks, tiles = p.block_size(block);
    const WinogradScratch s = scratch(p);
    const std::vector<Segment> segments = p.segments(block);
    const size_t first = chunk * p.chunk_blocks, last = std::min(p.channel_blocks, first + p.chunk_blocks);
    const auto [first_input, end_input] = p.inputs_of(first, last);
    thread_local Transformed held;
    if (held.run != run || held.block != block || held.first_input != first_input) {
      // Channel by channel, and in each the segments in order of their tiles: the extra lanes a
      // transform writes past its tiles are overwritten by a later one (or land in the room
      // after the last row). The padding is the same for every channel: set once for one band.
      const std::vector<Band> bands = p.bands(segments);
      std::vector<StripWindow> windows;
      for (const Band& band : bands) windows.emplace_back(p, padding, band);
      if (bands.size() == 1) windows[0].zero(p, s.strip);
      for (size_t ci = first_input; ci < end_input; ci++) {
        for (size_t b = 0; b < bands.size(); b++) {
          const Band& band = bands[b];
          if (bands.size() > 1) windows[b].zero(p, s.strip);
          windows[b].copy(p, x + (band.image * cin + ci) * in_plane, s.strip);
          for (size_t i = band.first; i < band.end; i++) {
            const Segment& seg = segments[i];
            const float* patches = s.strip + ((seg.tile_row - band.tile_row) * p.strip_stride + seg.tile_col - band.tile_col) * p.tile;
            input_->fn(seg.count, patches, p.strip_stride * sizeof(float),
                       s.v + (ci - first_input) * p.v_row + seg.offset, p.v_stride * sizeof(float));
          }
        }
      }
      held = {run, block, first_input};
    }
    for (size_t cb = first; cb < last; cb++) {
      const size_t g = cb / group_blocks_, c0 = g * group_cout + cb % group_blocks_ * mr;
      const size_t rows = std::min(mr, (g + 1) * group_cout - c0);
      const float* u = packed_.data() + cb * p.positions * block_floats;
      const float* v = s.v + (g * group_cin - first_input) * p.v_row;
      for (size_t q = 0; q < p.positions; q++)
        gemm_->fn(rows, tiles, group_cin, v + q * p.v_stride, p.v_row * sizeof(float), u + q * block_floats,
                  s.m + q * p.m_stride, T * sizeof(float), &kNoClamp);
      for (size_t r = 0; r < rows; r++) {
        const size_t co = c0 + r;
        for (const Segment& seg : segments) {
          const size_t oy = seg.tile_row * p.tile, ox = seg.tile_col * p.tile;
          const size_t at = (seg.image * cout + co) * out_plane + oy * p.y.w + ox;
          const size_t out_rows = std::min(p.tile, p.y.h - oy), out_cols = std::min(seg.count * p.tile, p.y.w - ox);
          output_->fn(seg.count, out_rows, out_cols, s.m + r * T + seg.offset, p.m_stride * sizeof(float), bias_[co],
                      residual != nullptr ? residual + at : nullptr, y + at, p.y.w * sizeof(float), &params);
          if (after.pending()) after.apply(y + at, out_rows, out_cols, p.y.w * sizeof(float), y);
        }
      }
    }
  });
}

}  // namespace pyprune
