// linear: act(x @ W^T + b) over the last dim of x (any rank >= 1), on FullyConnected: the weight
// (out, in) packed once in the GEMV kernel's panels, which serve one row (batch 1, the classifier
// head: a GEMV) and many (the GEMM kernel over the same panels) alike.
#include <memory>
#include <stdexcept>

#include "pyprune/fully_connected.h"
#include "pyprune/graph/factories.h"
#include "pyprune/graph/fused.h"

namespace pyprune::graph {
namespace {

class LinearOperator : public Operator {
 public:
  LinearOperator(size_t out_features, size_t in_features, const float* weight, std::vector<float> bias,
                 const Activation& activation)
      : out_(out_features), in_(in_features), bias_(std::move(bias)), activation_(activation) {
    if (weight != nullptr) packed_ = prepare(weight);
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
    std::unique_ptr<FullyConnected> per_run = packed_ ? nullptr : prepare(in[1]);
    (packed_ ? *packed_ : *per_run).run(rows, in[0], out[0], Epilogue(activation_));
  }

  std::string describe() const override {
    return "linear " + std::to_string(in_) + " -> " + std::to_string(out_) + " gemv " + pp_f32_gemv_config().name +
           " (one row), gemm " + pp_f32_gemm_config().name + " (more)" + activation_suffix(activation_);
  }

  size_t macs(const std::vector<Dims>& inputs) const override { return elements(inputs[0]) / in_ * in_ * out_; }

 private:
  std::unique_ptr<FullyConnected> prepare(const float* weight) const {
    return std::make_unique<FullyConnected>(out_, in_, weight, bias_.empty() ? nullptr : bias_.data());
  }

  size_t out_, in_;
  std::vector<float> bias_;
  Activation activation_;
  std::unique_ptr<FullyConnected> packed_;  // nullptr when the weights are coded
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
