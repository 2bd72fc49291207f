// Dense and grouped convolution (NCHW) on the GEMM kernels. Python-free.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

#include "pyprune/activation.h"
#include "pyprune/dispatch.h"
#include "pyprune/fully_connected.h"
#include "pyprune/shape.h"

namespace pyprune {

// A convolution with its weights packed once for its kernel: per group, blocks of tile() (the
// GEMM's mr, or an outvec kernel's nc) output channels, each tile() biases then depth x tile()
// weights (ukernels.h), where depth =
// in_channels / groups * kernel_h * kernel_w. 1x1 stride-1 unpadded convolutions multiply the
// input directly; others go through an im2col panel sized to stay in cache (for 1x1 strided
// ones, a strided gather of the input pixels).
class Conv2d {
 public:
  // weight [out_channels, in_channels / groups, kernel_h, kernel_w] (row-major), bias
  // [out_channels] or nullptr (zeros). `ukernel` (a GEMM), `direct` (a 3x3 stride-2 padding-1
  // kernel, packed for its ISA's production GEMM) or `outvec` (output channels across lanes)
  // forces a kernel; none picks the production kernels: the direct one where it takes the
  // convolution, else the outvec one where it takes a grouped one, else the GEMM.
  // std::invalid_argument naming the argument the kernels do not take.
  Conv2d(size_t out_channels, size_t in_channels, const Window2d& window, size_t groups, const float* weight,
         const float* bias, const pp_f32_gemm_ukernel* ukernel = nullptr,
         const pp_f32_conv2d_3x3s2p1_ukernel* direct = nullptr,
         const pp_f32_conv2d_outvec_ukernel* outvec = nullptr);

  // The output shape for input `x`; std::invalid_argument naming x if it does not fit.
  Shape4 output_shape(const Shape4& x) const;
  // y = epilogue(conv(x) + bias); x and y contiguous, the residual (if any) laid out like y.
  void run(const Shape4& x_shape, const float* x, float* y, const Epilogue& epilogue) const;
  // A 1x1 convolution's output channels [first_block * mr, ...) for `pixels` pixels of a
  // [in_channels, pixels] panel `b` (rows b_stride bytes apart) into `c` (rows c_stride bytes
  // apart, inside the output starting at `output`, for the epilogue's residual): one kernel call
  // and its epilogue per block. Not threaded: for fused operators.
  void gemm_blocks(size_t first_block, size_t blocks, size_t pixels, const float* b, size_t b_stride, float* c,
                   size_t c_stride, const Epilogue& epilogue, const float* output) const;
  size_t blocks() const { return pp_divide_round_up(out_channels_ / groups_, tile()); }

  size_t in_channels() const { return in_channels_; }
  size_t out_channels() const { return out_channels_; }
  const Window2d& window() const { return window_; }
  size_t groups() const { return groups_; }
  // A 1x1, stride-1, unpadded convolution: a GEMM on the input as it is.
  bool pointwise() const;
  const pp_f32_gemm_ukernel& ukernel() const { return *ukernel_; }
  // The kernel run() runs.
  // The kernel a convolution of these sizes gets when none is forced.
  static const char* default_ukernel_name(size_t out_channels, size_t in_channels, const Window2d& window,
                                          size_t groups);
  // Whether a convolution of these sizes runs on a direct 3x3 stride-2 kernel when none is forced.
  static bool runs_direct(size_t in_channels, const Window2d& window, size_t groups);
  const char* ukernel_name() const {
    return direct_ != nullptr ? direct_->name : outvec_ != nullptr ? outvec_->name : ukernel_->name;
  }
  // The kernel run() runs for input x (the GEMM where a default outvec one has few outputs).
  const char* ukernel_name_for(const Shape4& x) const {
    return runs_gemm_twin(x) ? ukernel_->name : ukernel_name();
  }
  // Whether x is one pixel (1x1) read through a kernel of more taps than groups, each output at
  // most one tap on it (DCGAN's first transposed layer as a convolution of the padded pixel):
  // run() then runs a linear layer from its channels to every output (built on first use), the
  // multiply-adds of the taps on the pixel alone.
  bool reads_one_pixel(const Shape4& x) const;

 private:
  size_t depth() const { return in_channels_ / groups_ * window_.kernel_h * window_.kernel_w; }
  void run_direct(const Shape4& x_shape, const float* x, float* y, const Epilogue& epilogue) const;
  void run_outvec(const Shape4& x_shape, const float* x, float* y, const Epilogue& epilogue) const;
  // im2col (or, in_place, the input itself) + GEMM: x of x_shape through `window` into y of y_shape.
  void run_gemm(const Shape4& x_shape, const Window2d& window, const Shape4& y_shape, const float* x, float* y,
                const Epilogue& epilogue, bool in_place) const;
  // Output channels per block of the packed weights: the GEMM's mr or the outvec kernel's nc.
  size_t tile() const { return outvec_ != nullptr ? outvec_->nc : ukernel_->mr; }
  // Whether each image of x is the whole im2col column of its one output pixel (groups 1, the
  // kernel the size of the plane, no padding or dilation).
  bool reads_whole_plane(const Shape4& x) const;
  // The weights as GEMV panels: the packed blocks themselves when the GEMV kernel's panels are as
  // wide (NEON), else repacked from them on first use, so a convolution never given such an
  // input holds one copy.
  const FullyConnected& fully_connected() const;
  const FullyConnected& one_pixel() const;
  // The same convolution on the production GEMM, repacked from the outvec blocks on first use:
  // where the outvec kernel was chosen for a dense convolution by default and a call's output
  // has few pixels (kGemmMostPixels), the GEMM reads the weights once where the outvec tiles of
  // a few pixels each read them all (AVX2: 16 pixels 0.74x the time, 64 0.84-0.92x, 196 1.1x).
  const Conv2d& gemm_twin() const;
  bool runs_gemm_twin(const Shape4& x) const;
  static constexpr size_t kGemmMostPixels = 64;

  size_t out_channels_, in_channels_;
  Window2d window_;
  size_t groups_;
  const pp_f32_gemm_ukernel* ukernel_;
  const pp_f32_conv2d_3x3s2p1_ukernel* direct_;  // nullptr: im2col + GEMM
  const pp_f32_conv2d_outvec_ukernel* outvec_;   // nullptr: not output channels across lanes
  std::vector<float> packed_;
  // An operator built from the packed blocks on first use.
  template <class T>
  struct Lazy {
    std::once_flag once;
    std::unique_ptr<T> op;
  };
  std::unique_ptr<Lazy<FullyConnected>> panels_ = std::make_unique<Lazy<FullyConnected>>();
  std::unique_ptr<Lazy<FullyConnected>> pixel_ = std::make_unique<Lazy<FullyConnected>>();  // one_pixel()'s
  bool default_outvec_ = false;  // the outvec kernel chosen for a dense convolution, not forced
  std::unique_ptr<Lazy<Conv2d>> twin_ = std::make_unique<Lazy<Conv2d>>();  // gemm_twin()'s
};

}  // namespace pyprune
