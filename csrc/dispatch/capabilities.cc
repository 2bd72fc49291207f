// The admissibility rules of the operators (see pyprune/capabilities.h).
#include "pyprune/capabilities.h"

#include <algorithm>
#include <stdexcept>

#include "pyprune/dispatch.h"
#include "pyprune/shape.h"

namespace pyprune {

namespace {

// "1, 2, 4 or 8"
std::string one_of(const std::vector<std::string>& items) {
  std::string s;
  for (size_t i = 0; i < items.size(); i++) s += (i == 0 ? "" : i + 1 == items.size() ? " or " : ", ") + items[i];
  return s;
}

std::vector<std::string> depthwise_kernel_sizes(bool square) {
  std::vector<std::string> sizes;
  for (const DepthwiseCase& c : depthwise_cases()) {
    const std::string k = std::to_string(c.kernel_size);
    const std::string item = square ? k + "x" + k : k;
    if (std::find(sizes.begin(), sizes.end(), item) == sizes.end()) sizes.push_back(item);
  }
  return sizes;
}

}  // namespace

const std::vector<DepthwiseCase>& depthwise_cases() {
  static const std::vector<DepthwiseCase> cases = [] {
    std::vector<DepthwiseCase> all;
    for (const auto& k : pp_f32_dwconv2d_chw_ukernels())
      if (k.isa == pp_isa_scalar && k.production)
        all.push_back({static_cast<size_t>(k.kernel_size), static_cast<size_t>(k.stride),
                       static_cast<size_t>(k.kernel_size) / 2});
    return all;
  }();
  return cases;
}

const std::vector<size_t>& sparse_blocks() {
  static const std::vector<size_t> blocks = [] {
    std::vector<size_t> all;
    for (const auto& k : pp_f32_spmm_ukernels())
      if (k.isa == pp_isa_scalar && k.production) all.push_back(k.nr);
    std::sort(all.begin(), all.end());
    return all;
  }();
  return blocks;
}

const SparseRule& sparse_rule() {
  static const SparseRule rule = [] {
    const std::pair<size_t, double> measured[] = {{1, 1.0}, {2, 0.8}, {4, 0.68}, {8, 0.9}};
    SparseRule r{0.40, 0.45, 12, {}};
    for (size_t block : sparse_blocks()) {
      double cost = 1.0;  // a block size without a measurement counts as single rows
      for (const auto& [b, c] : measured)
        if (b == block) cost = c;
      r.block_costs.emplace_back(block, cost);
    }
    return r;
  }();
  return rule;
}

const WinogradCase& winograd_case() {
  static const WinogradCase winograd = [] {
    std::vector<size_t> input, tiles;
    for (const auto& k : pp_f32_winograd_input_ukernels())
      if (k.isa == pp_isa_scalar && k.production) input.push_back(k.tile);
    for (const auto& k : pp_f32_winograd_output_ukernels())
      if (k.isa == pp_isa_scalar && k.production && std::find(input.begin(), input.end(), k.tile) != input.end())
        tiles.push_back(k.tile);
    std::sort(tiles.begin(), tiles.end());
    return WinogradCase{3, 1, 1, 1, 2, tiles};
  }();
  return winograd;
}

size_t winograd_min_tiles() {
  // x86-64 (AVX2, AVX-512), measured at 1 thread on 16 to 512 channels: 1.7-3.4x faster than
  // im2col + GEMM from 9 tiles on, 0.9-1.4x at 4, where the transformed weights (4x the
  // weights) stream in for a few columns. In a whole model on AVX-512, whose GEMM is twice
  // AVX2's width, 9 tiles (9x9 to 12x12 outputs) lose too: the YOLOv8-style detector's four
  // 128-channel 10x10 layers, whose 2.3 MiB of transformed weights come from L3 after the
  // layers before, make it 1.03x faster (1 thread; 1.02x at 2) on the GEMM; 16 tiles still win
  // (ResNet-18's 14x14 layers: 1.08x). NEON, counted on cortex-a72 (arm_cost.py --sections
  // winograd): fewer instructions from 1 tile on (1.5x), 2.5-2.9x at 4 tiles, as ResNet-18's
  // 512-channel 7x7 layers are; below 4 the transformed weights read for a single tile outweigh
  // the saving on a board's memory.
  switch (pp_active_isa()) {
    case pp_isa_neon:
      return 4;
    case pp_isa_avx512:
      return 10;
    default:
      return 8;
  }
}

size_t winograd_small_group_min_tiles() {
  // Each group's few channels share the transforms of its tiles: they weigh more against the
  // multiplications saved. NEON, counted on cortex-a72 (2, 3 and 4 channels per group, 7x7 to
  // 56x56): 1.08x fewer instructions than im2col + GEMM at 4 tiles, 1.4-1.7x from 16. x86-64 at
  // 1 thread: 0.82-0.87x as fast at 16 tiles, 0.87-0.96x at 25, 1.07-1.17x at 36, 1.05-1.42x
  // from 49.
  return pp_active_isa() == pp_isa_neon ? winograd_min_tiles() : 36;
}

std::string depthwise_kernel_rejects(int64_t height, int64_t width) {
  for (const DepthwiseCase& c : depthwise_cases())
    if (static_cast<int64_t>(c.kernel_size) == height && height == width) return "";
  return "kernel size must be " + one_of(depthwise_kernel_sizes(false)) + " (a " + one_of(depthwise_kernel_sizes(true)) +
         " depthwise weight), got " + std::to_string(height) + "x" + std::to_string(width);
}

std::string depthwise_conv2d_rejects(int64_t kernel_size, int64_t stride, int64_t padding) {
  const std::string kernel = depthwise_kernel_rejects(kernel_size, kernel_size);
  if (!kernel.empty()) return kernel;
  std::vector<std::string> strides;
  for (const DepthwiseCase& c : depthwise_cases()) {
    if (static_cast<int64_t>(c.kernel_size) != kernel_size) continue;
    if (static_cast<int64_t>(c.stride) == stride)
      return padding >= 0 && padding <= static_cast<int64_t>(c.max_padding) ? ""
                                      : "padding must be in [0, " + std::to_string(c.max_padding) + "] for a " +
                                            std::to_string(kernel_size) + "x" + std::to_string(kernel_size) +
                                            " depthwise kernel, got " + std::to_string(padding);
    strides.push_back(std::to_string(c.stride));
  }
  return "stride must be " + one_of(strides) + " for a " + std::to_string(kernel_size) + "x" +
         std::to_string(kernel_size) + " depthwise kernel, got " + std::to_string(stride);
}

std::string conv2d_rejects(int64_t kernel_size, int64_t stride, int64_t padding) {
  if (kernel_size < 1) return "kernel_size must be at least 1, got " + std::to_string(kernel_size);
  if (stride < 1) return "stride must be at least 1, got " + std::to_string(stride);
  if (padding < 0)
    return "padding must be in [0, " + std::to_string(kernel_size - 1) + "] for a " + std::to_string(kernel_size) + "x" +
           std::to_string(kernel_size) + " kernel, got " + std::to_string(padding);
  return conv2d_window_rejects(Window2d::square(kernel_size, stride, padding));
}

std::string conv2d_window_rejects(const Window2d& w) {
  if (w.kernel_h < 1 || w.kernel_w < 1)
    return "kernel_size must be at least 1, got " + std::to_string(w.kernel_h) + "x" + std::to_string(w.kernel_w);
  if (w.stride_h < 1 || w.stride_w < 1) return "stride must be at least 1, got " + std::to_string(std::min(w.stride_h, w.stride_w));
  if (w.dilation_h < 1 || w.dilation_w < 1)
    return "dilation must be at least 1, got " + std::to_string(std::min(w.dilation_h, w.dilation_w));
  const size_t eh = w.extent_h(), ew = w.extent_w();
  const std::string kernel = std::to_string(w.kernel_h) + "x" + std::to_string(w.kernel_w) + " kernel" +
                             (eh != w.kernel_h || ew != w.kernel_w
                                  ? " (dilated to " + std::to_string(eh) + "x" + std::to_string(ew) + ")"
                                  : "");
  for (size_t pad : {w.pad_top, w.pad_bottom})
    if (pad >= eh)
      return "padding must be in [0, " + std::to_string(eh - 1) + "] for a " + kernel + ", got " + std::to_string(pad);
  for (size_t pad : {w.pad_left, w.pad_right})
    if (pad >= ew)
      return "padding must be in [0, " + std::to_string(ew - 1) + "] for a " + kernel + ", got " + std::to_string(pad);
  return "";
}

std::string depthwise_strip_rejects(const Window2d& w) {
  if (w.kernel_h != w.kernel_w || w.stride_h != w.stride_w || w.dilation_h != 1 || w.dilation_w != 1)
    return "no depthwise kernel takes a " + w.describe() + " window (square kernels, one stride, no dilation)";
  const size_t most = std::max({w.pad_top, w.pad_left, w.pad_bottom, w.pad_right});
  return depthwise_conv2d_rejects(static_cast<int64_t>(w.kernel_h), static_cast<int64_t>(w.stride_h),
                                  static_cast<int64_t>(most));
}

std::string sparse_window_rejects(const Window2d& w) {
  const std::string general = conv2d_window_rejects(w);
  if (!general.empty()) return general;
  if (w.stride_h != w.stride_w || (w.stride_h != 1 && (w.dilation_h != 1 || w.dilation_w != 1)))
    return "the sparse kernels take no " + w.describe() + " window (one stride for both axes, a dilation at stride 1 only)";
  return "";
}

std::string sparse_block_rejects(int64_t block) {
  const auto& blocks = sparse_blocks();
  for (size_t b : blocks)
    if (static_cast<int64_t>(b) == block) return "";
  std::vector<std::string> items;
  for (size_t b : blocks) items.push_back(std::to_string(b));
  return "block must be " + one_of(items) + ", got " + std::to_string(block);
}

std::string winograd_conv2d_rejects(const std::array<int64_t, 2>& kernel, const std::array<int64_t, 2>& stride,
                                    const std::array<int64_t, 2>& dilation, int64_t groups,
                                    const std::array<int64_t, 4>& padding) {
  const WinogradCase& c = winograd_case();
  const auto pair = [](const std::array<int64_t, 2>& v) { return std::to_string(v[0]) + "x" + std::to_string(v[1]); };
  const auto is = [](const std::array<int64_t, 2>& v, size_t x) {
    return v[0] == static_cast<int64_t>(x) && v[1] == static_cast<int64_t>(x);
  };
  const std::string k = std::to_string(c.kernel_size);
  if (!is(kernel, c.kernel_size)) return "kernel_size must be " + k + "x" + k + " for Winograd, got " + pair(kernel);
  if (!is(stride, c.stride)) return "stride must be " + std::to_string(c.stride) + " for Winograd, got " + pair(stride);
  if (dilation[0] < static_cast<int64_t>(c.dilation) || dilation[1] < static_cast<int64_t>(c.dilation))
    return "dilation must be at least " + std::to_string(c.dilation) + " for Winograd, got " + pair(dilation);
  if (groups != static_cast<int64_t>(c.groups))
    return "groups must be " + std::to_string(c.groups) + " for Winograd (a dense convolution), got " + std::to_string(groups);
  // A dilated convolution runs undilated on the input's phases, with padding / dilation.
  const std::string got = "(" + std::to_string(padding[0]) + ", " + std::to_string(padding[1]) + ", " +
                          std::to_string(padding[2]) + ", " + std::to_string(padding[3]) + ")";
  const bool dilated = !is(dilation, 1);
  for (size_t side = 0; side < 4; side++) {
    const int64_t p = padding[side], d = dilation[side % 2];
    if (p < 0 || p > static_cast<int64_t>(c.max_padding) * d)
      return "padding must be in [0, " + std::to_string(c.max_padding) + "] on every side for Winograd" +
             (dilated ? " (times the dilation " + pair(dilation) + ")" : "") + ", got " + got;
    if (p % d != 0)
      return "padding must be a multiple of the dilation " + pair(dilation) + " on every side for Winograd, got " + got;
  }
  return "";
}

std::string winograd_tile_rejects(int64_t tile) {
  const auto& tiles = winograd_case().tiles;
  for (size_t t : tiles)
    if (static_cast<int64_t>(t) == tile) return "";
  std::vector<std::string> items;
  for (size_t t : tiles) items.push_back(std::to_string(t));
  return "tile must be " + one_of(items) + " (F(m x m, 3 x 3) output tiles), got " + std::to_string(tile);
}

std::string threads_rejects(int64_t threads) {
  if (threads < 1 || threads > static_cast<int64_t>(kMaxThreads))
    return "num_threads must be at least 1 and at most " + std::to_string(kMaxThreads) + ", got " + std::to_string(threads);
  return "";
}

void require(const std::string& rejection) {
  if (!rejection.empty()) throw std::invalid_argument(rejection);
}

}  // namespace pyprune
