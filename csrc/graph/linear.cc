// linear: act(x @ W^T + b) over the last dim of x (any rank >= 1), on the GEMM kernels: the
// weight (out, in) is packed once as a 1x1 convolution's. One row (batch 1, the classifier
// head) is a GEMV straight on x: x as the [in, 1] input of the 1x1 convolution, y as its
// [out, 1] output. More rows go through their transposes, so that the weights are read once
// for all of them.
#include <algorithm>
#include <memory>
#include <stdexcept>

#include "../ops/aligned_buffer.h"
#include "pyprune/conv2d.h"
#include "pyprune/graph/factories.h"
#include "pyprune/graph/fused.h"

namespace pyprune::graph {
namespace {

// dst[c][r] = src[r][c] for a rows x cols matrix, in tiles that stay in L1.
void transpose(const float* src, size_t rows, size_t cols, float* dst) {
  constexpr size_t kTile = 32;
  for (size_t r0 = 0; r0 < rows; r0 += kTile)
    for (size_t c0 = 0; c0 < cols; c0 += kTile)
      for (size_t r = r0; r < std::min(rows, r0 + kTile); r++)
        for (size_t c = c0; c < std::min(cols, c0 + kTile); c++) dst[c * rows + r] = src[r * cols + c];
}

class LinearOperator : public Operator {
 public:
  LinearOperator(size_t out_features, size_t in_features, const float* weight, std::vector<float> bias,
                 const Activation& activation)
      : out_(out_features), in_(in_features), bias_(std::move(bias)), activation_(activation) {
    if (weight != nullptr) conv_ = prepare(weight);
  }

  std::vector<Dims> output_shapes(const std::vector<Dims>& inputs) const override {
    const Dims& x = inputs[0];
    if (x.empty() || x.back() != in_)
      throw std::invalid_argument("x must have " + std::to_string(in_) + " features in its last dim, got shape " +
                                  to_string(x));
    Dims y = x;
    y.back() = out_;
    elements(y);
    return {y};
  }

  void run(const std::vector<const float*>& in, const std::vector<Dims>& in_shapes, const std::vector<float*>& out,
           const std::vector<Dims>&) const override {
    const size_t rows = elements(in_shapes[0]) / in_;
    if (rows == 0) return;
    // Coded weights (kept compressed) arrive decoded at run time: packed for this run only.
    std::unique_ptr<Conv2d> per_run = conv_ ? nullptr : prepare(in[1]);
    const Conv2d& conv = conv_ ? *conv_ : *per_run;
    const Epilogue epilogue(activation_);
    if (rows == 1) {
      conv.run({1, in_, 1, 1}, in[0], out[0], epilogue);
      return;
    }
    thread_local AlignedBuffer xt, yt;
    xt.reserve(rows * in_);
    yt.reserve(rows * out_);
    transpose(in[0], rows, in_, xt.data());
    conv.run({1, in_, 1, rows}, xt.data(), yt.data(), epilogue);
    transpose(yt.data(), out_, rows, out[0]);
  }

  std::string describe() const override {
    return "linear " + std::to_string(in_) + " -> " + std::to_string(out_) + " gemm " + pp_f32_gemm_config().name +
           activation_suffix(activation_);
  }

  size_t macs(const std::vector<Dims>& inputs) const override { return elements(inputs[0]) / in_ * in_ * out_; }

 private:
  std::unique_ptr<Conv2d> prepare(const float* weight) const {
    return std::make_unique<Conv2d>(out_, in_, Window2d::square(1, 1, 0), 1, weight,
                                    bias_.empty() ? nullptr : bias_.data());
  }

  size_t out_, in_;
  std::vector<float> bias_;
  Activation activation_;
  std::unique_ptr<Conv2d> conv_;  // nullptr when the weights are coded
};

}  // namespace

std::unique_ptr<Operator> make_linear(const Attributes& a, const std::vector<const Constant*>& constants) {
  a.only(activation_attribute_names());
  if (constants.size() < 2 || constants.size() > 3)
    a.fail("linear takes 2 or 3 inputs (x, weight, [bias]), got " + std::to_string(constants.size()));
  const Constant& weight = constant_input(a, constants, 1, "weight");
  if (weight.shape.size() != 2 || elements(weight.shape) == 0)
    a.fail("the weight must have shape (out_features, in_features), got " + to_string(weight.shape));
  const size_t out = weight.shape[0], in = weight.shape[1];
  std::vector<float> bias;
  if (constants.size() == 3) {
    const Constant& b = constant_input(a, constants, 2, "bias");
    if (b.shape != Dims{out}) a.fail("the bias must have shape (" + std::to_string(out) + ",), got " + to_string(b.shape));
    std::vector<float> storage;
    const float* values = constant_floats(b, storage);
    bias.assign(values, values + out);
  }
  const Activation activation = activation_attributes(a);
  try {
    return std::make_unique<LinearOperator>(out, in, weight.dense, std::move(bias), activation);
  } catch (const std::invalid_argument& e) {
    a.fail(e.what());
  }
}

}  // namespace pyprune::graph
