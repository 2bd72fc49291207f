// A weight matrix applied to rows: linear layers, and convolutions whose output is one pixel
// computed from the whole input plane (squeeze-excitation's 1x1 convolutions of a pooled tensor).
// Python-free.
#pragma once

#include <cstddef>
#include <vector>

#include "pyprune/activation.h"
#include "pyprune/dispatch.h"

namespace pyprune {

// W [outputs, depth] and its bias packed once in the GEMV kernel's panels (ukernels.h, "f32
// GEMV"): per panel of nr outputs, nr biases then depth x nr weights, zero-filled past the last
// output; the layout of the GEMM's packed blocks of nr rows, so a Conv2d whose blocks are as
// wide lends them instead of a copy. The panels serve every row count: the GEMV kernel for one
// row, the GEMM kernel over the same panels for more (run()).
class FullyConnected {
 public:
  // Packs weight [outputs, depth] (row-major) and bias [outputs] (nullptr: zeros) for `ukernel`
  // (nullptr: the production GEMV kernel).
  FullyConnected(size_t outputs, size_t depth, const float* weight, const float* bias,
                 const pp_f32_gemv_ukernel* ukernel = nullptr);
  // Runs on panels packed for `ukernel` by someone else (`panels` must outlive this object).
  FullyConnected(size_t outputs, size_t depth, const float* panels, const pp_f32_gemv_ukernel& ukernel);
  FullyConnected(FullyConnected&&) = default;
  FullyConnected(const FullyConnected&) = delete;
  FullyConnected& operator=(const FullyConnected&) = delete;

  // y[r] = epilogue(W x[r] + bias) for r < rows (rows >= 1): x rows of depth floats, y rows of
  // outputs floats, both contiguous; the epilogue's residual is laid out like y. Every output is
  // computed by one task, so results do not depend on the number of threads.
  void run(size_t rows, const float* x, float* y, const Epilogue& epilogue) const;

  const float* panels() const { return panels_; }

 private:
  void gemv(const float* x, float* y, const Epilogue& epilogue) const;
  void gemm(size_t rows, const float* x, float* y, const Epilogue& epilogue) const;
  size_t panel_floats() const { return ukernel_->nr * (1 + depth_); }

  size_t outputs_, depth_;
  const pp_f32_gemv_ukernel* ukernel_;
  std::vector<float> storage_;  // the panels, unless borrowed
  const float* panels_;
};

}  // namespace pyprune
