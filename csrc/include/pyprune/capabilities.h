// What the operators take: the one place these rules are written. Where a microkernel decides
// (which depthwise kernel sizes and strides, which sparse block sizes), the rule is read from
// the operator lists (*.inc); the rest are the drivers' own limits. Python reads them through
// pyprune.kernels.capabilities().
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "pyprune/shape.h"

namespace pyprune {

// Most threads the pool runs.
constexpr size_t kMaxThreads = 256;
// Most elements of one weight tensor (a 1 GiB float32 tensor): far above any real layer, and
// refused before anything of that size is allocated.
constexpr size_t kMaxWeightElements = size_t{1} << 28;

struct DepthwiseCase {
  size_t kernel_size, stride, max_padding;
};

// The (kernel_size, stride) pairs that have a depthwise kernel (the scalar rows of
// f32-dwconv2d-chw.inc), each with the most padding the strip packer takes (kernel_size / 2).
const std::vector<DepthwiseCase>& depthwise_cases();
// Block sizes of the sparse format: the nr of the scalar rows of f32-spmm.inc.
const std::vector<size_t>& sparse_blocks();

// When a convolution (groups 1, a window the sparse driver takes) runs on the sparse kernels
// where nothing else decided (the engine's "auto", SparsePolicy's defaults): when its effective
// density (cheapest_block, pyprune/sparse.h) is at most pointwise_max_density for a 1x1
// stride-1 unpadded one, conv_max_density for the rest. The crossovers and the block costs were
// measured on an x86-64 AVX2 core, 1 thread, batch 1, on the 13 MobileNetV1 pointwise layers
// (sparse beats the GEMM below about 42 % density) and KxK ones (below about 45 % at stride 2,
// the phase-split input replacing im2col); block costs per stored weight relative to single
// rows on 90 % block-pruned pointwise layers (an 8-row block's tile loads more per FMA).
// A dense KxK one of at most few_outputs output channels runs on them too where Winograd does
// not run it and no direct 3x3 stride-2 kernel takes it (a model's last layer to a few channels, a
// heatmap head): they read the input where it is, where the GEMM gathers an im2col row per tap
// for a tile it fills with few rows. AVX-512, 1 thread, the GEMM's time over theirs on dense
// weights (5x5, 7x7, 3x3 stride 2, 3x3 on 256 channels): 1 to 8 outputs 1.2-9x, 12 outputs
// 1.05-1.9x, 16 outputs 0.92-1.23x; 1x1 ones 0.53-0.66x (the GEMM reads those in place), so
// they stay on it. Cortex-a72, the GEMM's instructions over theirs: 16 -> 3 5x5 2.7x, 32 -> 1
// 7x7 9.7x, 64 -> 3 and 64 -> 4 3x3 stride 2 1.5-1.6x, 16 -> 8 5x5 1.24x; 32 -> 12 3x3 stride 2,
// which NEON's direct kernel takes, 0.70x.
struct SparseRule {
  double pointwise_max_density, conv_max_density;
  size_t few_outputs;
  std::vector<std::pair<size_t, double>> block_costs;  // (block, cost), every sparse_blocks() entry
};
const SparseRule& sparse_rule();

// The convolutions Winograd's F(m x m, 3 x 3) takes (WinogradConv2d): dense (groups 1) 3x3
// stride-1 ones of dilation `dilation` (1), zero padding per side up to max_padding, any
// channels and input size; dilated ones too when each side's padding is up to max_padding
// times its axis's dilation (they run undilated on the input's phases); `tiles` are the
// output tiles m there are kernels for (the scalar rows of f32-winograd-input.inc and
// f32-winograd-output.inc).
struct WinogradCase {
  size_t kernel_size, stride, dilation, groups, max_padding;
  std::vector<size_t> tiles;
};
const WinogradCase& winograd_case();
// Output tiles (m x m, all images of the call) from which the engine's "auto" runs a
// convolution Winograd takes by F(4x4, 3x3) rather than im2col + GEMM, on the active ISA: a
// dense one, or a grouped one of at least kWinogradSmallGroupChannels channels per group (the
// fewer of input's and output's).
size_t winograd_min_tiles();
// The same for groups of 2 to kWinogradSmallGroupChannels - 1 channels; groups of one channel
// stay on im2col + GEMM.
constexpr size_t kWinogradSmallGroupChannels = 8;
size_t winograd_small_group_min_tiles();

// Why the operator does not take these arguments, or "" when it does. Messages name the
// argument ("stride must be ..."). Arguments are signed: they come from users as they gave them.
std::string depthwise_kernel_rejects(int64_t height, int64_t width);
std::string depthwise_conv2d_rejects(int64_t kernel_size, int64_t stride, int64_t padding);
std::string conv2d_rejects(int64_t kernel_size, int64_t stride, int64_t padding);
// The general window of the GEMM (im2col) path: any kernel, stride and dilation of at least 1,
// each side's padding below the dilated kernel's extent on its axis.
std::string conv2d_window_rejects(const Window2d& window);
// The depthwise strip kernels' window (the fused separable driver's too): a depthwise case
// (square kernel, one stride), dilation 1, each side padded by at most the case's max_padding.
// Other windows run on the taps kernel (depthwise_taps.h).
std::string depthwise_strip_rejects(const Window2d& window);
// The sparse driver's window: the GEMM path's, with one stride for both axes, a dilation at
// stride 1 only.
std::string sparse_window_rejects(const Window2d& window);
std::string sparse_block_rejects(int64_t block);
// A convolution by its kernel, stride and dilation (height, width), groups and padding (top,
// left, bottom, right).
std::string winograd_conv2d_rejects(const std::array<int64_t, 2>& kernel, const std::array<int64_t, 2>& stride,
                                    const std::array<int64_t, 2>& dilation, int64_t groups,
                                    const std::array<int64_t, 4>& padding);
std::string winograd_tile_rejects(int64_t tile);
std::string threads_rejects(int64_t threads);

// The same, throwing std::invalid_argument with the reason.
void require(const std::string& rejection);

}  // namespace pyprune
