// conv2d: act(conv2d(x) + bias + residual) on one of the convolution drivers, chosen by the
// node's `algorithm`: "gemm" (im2col + GEMM, any window and groups), "depthwise" (the depthwise
// kernels' cases), "sparse" (the SpMM kernels, weights without their zeros in blocks of
// `block` output channels) or "auto" (depthwise when a depthwise kernel takes the node, else
// gemm). Inputs: x, weight (constant), then an optional bias (constant) and an optional
// residual (computed: a tensor of the output's shape): a third input is the bias when it is a
// constant and the residual otherwise.
#include <memory>
#include <stdexcept>
#include <variant>

#include "pyprune/capabilities.h"
#include "pyprune/conv2d.h"
#include "pyprune/depthwise.h"
#include "pyprune/graph/factories.h"
#include "pyprune/graph/fused.h"
#include "pyprune/sparse.h"

namespace pyprune::graph {
namespace {

enum class Algorithm { gemm, depthwise, sparse };

// The drivers, behind one interface (output_shape, run).
using Kernel = std::variant<std::unique_ptr<Conv2d>, std::unique_ptr<DepthwiseConv2d>, std::unique_ptr<SparseConv2d>>;

// Everything about the node but its weights.
struct Spec {
  size_t out_channels, in_channels, groups, block;
  Window2d window;
  Algorithm algorithm;
  Activation activation;
  size_t residual_input;  // 0: none
};

Kernel prepare(const Spec& s, const float* weight, const float* bias) {
  switch (s.algorithm) {
    case Algorithm::depthwise:
      return std::make_unique<DepthwiseConv2d>(s.out_channels, s.window, weight, bias);
    case Algorithm::sparse: {
      const size_t columns = s.in_channels * s.window.kernel_h * s.window.kernel_w;
      return std::make_unique<SparseConv2d>(SparseMatrix::from_dense(s.out_channels, columns, s.block, weight, bias),
                                            s.in_channels, s.window);
    }
    case Algorithm::gemm: break;
  }
  return std::make_unique<Conv2d>(s.out_channels, s.in_channels, s.window, s.groups, weight, bias);
}

bool empty(const Kernel& k) {
  return std::visit([](const auto& p) { return p == nullptr; }, k);
}

Shape4 shape4(const Dims& d) { return {d[0], d[1], d[2], d[3]}; }

class Conv2dOperator : public Operator {
 public:
  Conv2dOperator(const Spec& spec, const float* weight, std::vector<float> bias)
      : spec_(spec), bias_(std::move(bias)) {
    if (weight != nullptr) kernel_ = prepare(spec_, weight, bias_data());
  }

  std::vector<Dims> output_shapes(const std::vector<Dims>& inputs) const override {
    const Dims& x = inputs[0];
    if (x.size() != 4) throw std::invalid_argument("x must be NCHW (4 dims), got shape " + to_string(x));
    if (x[1] != spec_.in_channels)
      throw std::invalid_argument("x must have " + std::to_string(spec_.in_channels) + " channels, got shape " +
                                  to_string(x));
    const Shape4 y = window_output(shape4(x), spec_.out_channels, spec_.window);
    const Dims out = {y.n, y.c, y.h, y.w};
    if (spec_.residual_input != 0 && inputs[spec_.residual_input] != out)
      throw std::invalid_argument("the residual must have the output's shape " + to_string(out) + ", got " +
                                  to_string(inputs[spec_.residual_input]));
    return {out};
  }

  void run(const std::vector<const float*>& in, const std::vector<Dims>& in_shapes, const std::vector<float*>& out,
           const std::vector<Dims>&) const override {
    const Epilogue epilogue(spec_.activation, spec_.residual_input != 0 ? in[spec_.residual_input] : nullptr);
    // Coded weights (kept compressed) arrive decoded at run time: prepared for this run only.
    Kernel per_run;
    if (empty(kernel_)) per_run = prepare(spec_, in[1], bias_data());
    const Kernel& kernel = empty(kernel_) ? per_run : kernel_;
    std::visit([&](const auto& p) { p->run(shape4(in_shapes[0]), in[0], out[0], epilogue); }, kernel);
  }

  std::string describe() const override {
    static const char* names[] = {"gemm", "depthwise", "sparse"};
    std::string s = "conv2d " + spec_.window.describe();
    if (spec_.groups != 1) s += " g" + std::to_string(spec_.groups);
    s += std::string(" ") + names[static_cast<int>(spec_.algorithm)];
    if (spec_.algorithm == Algorithm::sparse) s += " block " + std::to_string(spec_.block);
    s += std::string(" ") + ukernel_name();
    if (spec_.residual_input != 0) s += " + residual";
    if (spec_.activation.kind != ActivationKind::none) s += " + " + spec_.activation.name();
    return s;
  }

  size_t macs(const std::vector<Dims>& inputs) const override {
    const Dims y = output_shapes(inputs)[0];
    const size_t pixels = y[0] * y[2] * y[3];
    if (spec_.algorithm == Algorithm::sparse && !empty(kernel_))
      return std::get<2>(kernel_)->weights().stored_values() * pixels;
    return spec_.out_channels * (spec_.in_channels / spec_.groups) * spec_.window.kernel_h * spec_.window.kernel_w *
           pixels;
  }

 private:
  const float* bias_data() const { return bias_.empty() ? nullptr : bias_.data(); }

  std::string ukernel_name() const {
    switch (spec_.algorithm) {
      case Algorithm::depthwise: {
        const Window2d& w = spec_.window;
        const auto* k = pp_f32_dwconv2d_chw_config(static_cast<int>(w.kernel_h), static_cast<int>(w.stride_h));
        return k != nullptr ? k->name : "?";
      }
      case Algorithm::sparse: {
        const auto* k = pp_f32_spmm_config(spec_.block);
        return k != nullptr ? k->name : "?";
      }
      case Algorithm::gemm: break;
    }
    return pp_f32_gemm_config().name;
  }

  Spec spec_;
  std::vector<float> bias_;
  Kernel kernel_;  // holds nullptr when the weights are coded
};

// The algorithm the node asks for, checked against what the kernels take.
Algorithm choose(const Attributes& a, const Spec& s) {
  const std::string asked = a.text("algorithm", {"auto", "gemm", "depthwise", "sparse", "winograd"}, "auto");
  const bool depthwise_shape = s.groups == s.in_channels && s.groups == s.out_channels;
  const std::string depthwise_rejects =
      depthwise_shape ? depthwise_window_rejects(s.window)
                      : "it is not depthwise (groups == input channels == output channels)";
  if (asked == "winograd") a.fail("algorithm 'winograd' has no kernel in this build");
  if (asked != "sparse" && a.has("block")) a.fail("attribute 'block' applies only to algorithm 'sparse'");
  if (asked == "depthwise") {
    if (!depthwise_rejects.empty()) a.fail("algorithm 'depthwise' does not take this convolution: " + depthwise_rejects);
    return Algorithm::depthwise;
  }
  if (asked == "sparse") {
    std::string rejects = s.groups != 1 ? "groups must be 1, got " + std::to_string(s.groups) : sparse_window_rejects(s.window);
    if (rejects.empty()) rejects = sparse_block_rejects(static_cast<int64_t>(s.block));
    if (!rejects.empty()) a.fail("algorithm 'sparse' does not take this convolution: " + rejects);
    return Algorithm::sparse;
  }
  if (asked == "auto" && depthwise_rejects.empty()) return Algorithm::depthwise;
  return Algorithm::gemm;
}

}  // namespace

std::unique_ptr<Operator> make_conv2d(const Attributes& a, const std::vector<const Constant*>& constants) {
  std::vector<std::string> known = {"stride", "padding", "dilation", "groups", "algorithm", "block"};
  for (const std::string& name : activation_attribute_names()) known.push_back(name);
  a.only(known);
  if (constants.size() < 2 || constants.size() > 4)
    a.fail("conv2d takes 2 to 4 inputs (x, weight, [bias], [residual]), got " + std::to_string(constants.size()));
  const Constant& weight = constant_input(a, constants, 1, "weight");
  if (weight.shape.size() != 4 || elements(weight.shape) == 0)
    a.fail("the weight must have shape (Cout, Cin / groups, kh, kw), got " + to_string(weight.shape));
  const bool bias_given = constants.size() >= 3 && constants[2] != nullptr;
  if (constants.size() == 4 && !bias_given) a.fail("input 2 (bias) must be a constant when a residual follows it");

  constexpr int64_t kMax = int64_t{1} << 30;
  const auto stride = a.integers("stride", 2, 1, kMax, {1, 1});
  const auto padding = a.integers("padding", 4, 0, kMax, {0, 0, 0, 0});
  const auto dilation = a.integers("dilation", 2, 1, kMax, {1, 1});
  Spec s;
  s.groups = static_cast<size_t>(a.integer("groups", 1, kMax, 1));
  s.out_channels = weight.shape[0];
  s.in_channels = weight.shape[1] * s.groups;
  if (s.out_channels % s.groups != 0)
    a.fail("attribute 'groups' (" + std::to_string(s.groups) + ") must divide the " + std::to_string(s.out_channels) +
           " output channels");
  s.window = {weight.shape[2], weight.shape[3], static_cast<size_t>(stride[0]), static_cast<size_t>(stride[1]),
              static_cast<size_t>(dilation[0]), static_cast<size_t>(dilation[1]), static_cast<size_t>(padding[0]),
              static_cast<size_t>(padding[1]), static_cast<size_t>(padding[2]), static_cast<size_t>(padding[3])};
  const std::string window_rejects = conv2d_window_rejects(s.window);
  if (!window_rejects.empty()) a.fail(window_rejects);
  s.block = static_cast<size_t>(a.integer("block", 1, kMax, 1));
  s.algorithm = choose(a, s);
  s.activation = activation_attributes(a);
  s.residual_input = constants.size() == 4 ? 3 : constants.size() == 3 && !bias_given ? 2 : 0;

  std::vector<float> bias;
  if (bias_given) {
    const Constant& b = *constants[2];
    if (b.shape != Dims{s.out_channels})
      a.fail("the bias must have shape (" + std::to_string(s.out_channels) + ",), got " + to_string(b.shape));
    std::vector<float> storage;
    const float* values = constant_floats(b, storage);
    bias.assign(values, values + s.out_channels);
  }
  try {
    return std::make_unique<Conv2dOperator>(s, weight.dense, std::move(bias));
  } catch (const std::invalid_argument& e) {
    a.fail(e.what());
  }
}

}  // namespace pyprune::graph
