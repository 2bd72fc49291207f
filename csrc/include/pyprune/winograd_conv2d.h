// 3x3 stride-1 convolution (NCHW, dense or grouped) by Winograd's F(m x m, 3 x 3). Python-free.
#pragma once

#include <array>
#include <cstddef>
#include <vector>

#include "pyprune/activation.h"
#include "pyprune/dispatch.h"
#include "pyprune/shape.h"

namespace pyprune {

// A convolution whose weights are transformed (U = G g G^T, pyprune/winograd.h) and packed
// once for the GEMM kernel: per group, per block of mr of its output channels, per position p
// of the alpha x alpha transformed tile, mr zero biases then (in_channels / groups) x mr
// weights (ukernels.h). A run transforms blocks of output tiles of the whole batch at a time,
// every input channel (the input transform kernel), multiplies them position by position
// (alpha^2 GEMMs per block of output channels, each over its group's input channels) and
// transforms the products back with bias, residual and clamp (the output transform kernel),
// all in per-thread scratch sized to stay in L2. Which convolutions it takes: winograd_case()
// (capabilities.h), and any groups.
class WinogradConv2d {
 public:
  // weight [out_channels, in_channels / groups, 3, 3] (row-major), bias [out_channels] or
  // nullptr (zeros), padding (top, left, bottom, right), tile m of F(m x m, 3 x 3) (one of
  // winograd_case().tiles; 0 picks default_tile()), dilation (rows, columns; each side's
  // padding a multiple of its axis's), groups dividing both channel counts.
  // std::invalid_argument naming the argument the kernels do not take.
  WinogradConv2d(size_t out_channels, size_t in_channels, const std::array<size_t, 4>& padding, const float* weight,
                 const float* bias, size_t tile = 0, const std::array<size_t, 2>& dilation = {1, 1},
                 size_t groups = 1);

  // The tile taken when none is asked for: 4, whose rounding error is about half of 6's
  // (docs/winograd.md); a per-layer choice may take 6 where it measures faster.
  static size_t default_tile();
  // Floats of the transformed, packed weights of a convolution of these channels and groups
  // (tile 0: the default), or SIZE_MAX if that does not fit a size_t.
  static size_t packed_floats(size_t out_channels, size_t in_channels, size_t tile = 0, size_t groups = 1);

  // The output shape for input `x`; std::invalid_argument naming x if it does not fit.
  Shape4 output_shape(const Shape4& x) const;
  // y = activation(conv(x) + bias + residual) (activation.h's Epilogue); x, y and the residual
  // contiguous. Results do not depend on the number of threads.
  void run(const Shape4& x_shape, const float* x, float* y, const Epilogue& epilogue) const;

  size_t in_channels() const { return in_channels_; }
  size_t out_channels() const { return out_channels_; }
  size_t groups() const { return groups_; }
  const std::array<size_t, 4>& padding() const { return padding_; }
  const std::array<size_t, 2>& dilation() const { return dilation_; }
  size_t tile() const { return tile_; }
  const pp_f32_winograd_input_ukernel& input_ukernel() const { return *input_; }
  const pp_f32_gemm_ukernel& gemm_ukernel() const { return *gemm_; }
  const pp_f32_winograd_output_ukernel& output_ukernel() const { return *output_; }

 private:
  // run() of an undilated convolution with this padding (a dilated one's on its phases).
  void run_undilated(const Shape4& x_shape, const float* x, const Shape4& y_shape, float* y,
                     const std::array<size_t, 4>& padding, const Epilogue& epilogue) const;

  size_t out_channels_, in_channels_, groups_;
  std::array<size_t, 4> padding_;
  std::array<size_t, 2> dilation_;
  size_t tile_;
  const pp_f32_winograd_input_ukernel* input_;
  const pp_f32_gemm_ukernel* gemm_;
  const pp_f32_winograd_output_ukernel* output_;
  size_t group_blocks_;        // blocks of mr output channels per group
  std::vector<float> packed_;  // the transformed weights, as above
  std::vector<float> bias_;
};

}  // namespace pyprune
