// conv2d: act(conv2d(x) + bias + residual) on one of the convolution drivers, chosen by the
// node's `algorithm`: "gemm" (im2col + GEMM, any window and groups; where an input size leaves
// some taps reading only padding, the taps that read the input alone, live_taps.h), "depthwise"
// (any depthwise window; its live taps alone likewise), "sparse" (the SpMM kernels, weights
// without their zeros in blocks of `block` output channels), "winograd" (F(4x4, 3x3): 3x3
// stride-1 ones; dilated ones on the input's phases, when the padding is a multiple of the
// dilation; grouped ones too),
// "separable" (a depthwise convolution, its own `depthwise_activation...`, then a pointwise one,
// fused strip by strip) or "auto" (depthwise for a depthwise node; sparse in
// the cheapest block when sparse_rule() (pyprune/capabilities.h) says so; for a convolution
// Winograd takes, Winograd when a call has enough output tiles to pay for its transformed
// weights and a grouped one enough channels per group, else gemm; gemm otherwise).
// With auto_pad "same_upper" (TensorFlow's "SAME", timm's tf_ models), the padding is the
// input size's: each spatial dim padded to ceil(size / stride) outputs, the odd one after.
// Inputs: x, weight (constant), then an optional bias (constant) and an optional residual
// (computed: a tensor of the output's shape): a third input is the bias when it is a constant
// and the residual otherwise. A separable node's inputs are x, depthwise weight, depthwise bias,
// pointwise weight, pointwise bias (constants), then an optional residual.
// dynamic_conv2d: conv2d(x, weight, bias) of a weight computed at run time (CondConv, dynamic
// convolution and ODConv mix each sample's kernels; a tracker's template is the kernel of its
// search features): attributes stride, padding, dilation; the groups are the input's channels
// over the weight's dim 1, so a batch folded into the channels may vary. Each call packs the
// weight for the driver the shapes ask for: depthwise, else the GEMM.
#include <algorithm>
#include <array>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "live_taps.h"
#include "pyprune/capabilities.h"
#include "pyprune/conv2d.h"
#include "pyprune/depthwise.h"
#include "pyprune/graph/factories.h"
#include "pyprune/graph/fused.h"
#include "pyprune/separable.h"
#include "pyprune/sparse.h"
#include "pyprune/winograd_conv2d.h"

namespace pyprune::graph {
namespace {

enum class Algorithm { gemm, depthwise, sparse, winograd, separable };
const std::vector<std::string> kAlgorithms = {"auto", "gemm", "depthwise", "sparse", "winograd", "separable"};
// The attribute names of a separable node's activation between its halves start with this.
const std::string kDepthwise = "depthwise_";

// The drivers, behind one interface (output_shape, run).
using Kernel = std::variant<std::unique_ptr<Conv2d>, std::unique_ptr<DepthwiseConv2d>, std::unique_ptr<SparseConv2d>,
                            std::unique_ptr<WinogradConv2d>, std::unique_ptr<SeparableConv2d>>;

// Everything about the node but its weights. A separable node's window, groups and in_channels
// are its depthwise half's, out_channels its pointwise half's.
struct Spec {
  size_t out_channels, in_channels, groups, block;
  Window2d window;
  Algorithm algorithm;
  bool winograd_when_worth;  // "auto" on a convolution Winograd takes: algorithm is per call
  bool few_outputs;          // "auto" on a dense one of few outputs: sparse (in block) per call
  Activation activation, depthwise_activation;
  size_t residual_input;  // 0: none
};

// Channels per group: the fewer of input's and output's.
size_t group_channels(const Spec& s) { return std::min(s.in_channels, s.out_channels) / s.groups; }

// The weights: input 1's, and input 3's (the pointwise half) for a separable node; the biases
// likewise (nullptr: zeros).
struct Weights {
  const float *weight, *bias, *pointwise, *pointwise_bias;
};

Kernel prepare(const Spec& s, Algorithm algorithm, const Weights& w) {
  switch (algorithm) {
    case Algorithm::depthwise:
      return std::make_unique<DepthwiseConv2d>(s.out_channels, s.window, w.weight, w.bias);
    case Algorithm::sparse: {
      const size_t columns = s.in_channels * s.window.kernel_h * s.window.kernel_w;
      return std::make_unique<SparseConv2d>(SparseMatrix::from_dense(s.out_channels, columns, s.block, w.weight, w.bias),
                                            s.in_channels, s.window);
    }
    case Algorithm::winograd: {
      const Window2d& v = s.window;
      const std::array<size_t, 4> padding = {v.pad_top, v.pad_left, v.pad_bottom, v.pad_right};
      const std::array<size_t, 2> dilation = {v.dilation_h, v.dilation_w};
      return std::make_unique<WinogradConv2d>(s.out_channels, s.in_channels, padding, w.weight, w.bias, 0, dilation,
                                              s.groups);
    }
    case Algorithm::separable:
      return std::make_unique<SeparableConv2d>(
          DepthwiseConv2d(s.in_channels, s.window, w.weight, w.bias), s.depthwise_activation,
          Conv2d(s.out_channels, s.in_channels, Window2d::square(1, 1, 0), 1, w.pointwise, w.pointwise_bias));
    case Algorithm::gemm: break;
  }
  return std::make_unique<Conv2d>(s.out_channels, s.in_channels, s.window, s.groups, w.weight, w.bias);
}

bool empty(const Kernel& k) {
  return std::visit([](const auto& p) { return p == nullptr; }, k);
}

Shape4 shape4(const Dims& d) { return {d[0], d[1], d[2], d[3]}; }

class Conv2dOperator : public Operator {
 public:
  // Weights that are nullptr are coded: they arrive decoded at run time (inputs 1 and 3). A
  // per-call algorithm's kernels are prepared when a call first needs them, from the weights
  // the graph holds.
  Conv2dOperator(const Spec& spec, const float* weight, const float* pointwise, std::vector<float> bias,
                 std::vector<float> pointwise_bias)
      : spec_(spec), weight_(weight), bias_(std::move(bias)), pointwise_bias_(std::move(pointwise_bias)) {
    const bool separable = spec_.algorithm == Algorithm::separable;
    if (weight != nullptr && (!separable || pointwise != nullptr) && !spec_.winograd_when_worth)
      kernel_ = prepare(spec_, spec_.algorithm, weights(weight, pointwise));
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
    if (const Kernel* live = live_taps_kernel(in_shapes[0])) {
      std::visit([&](const auto& p) { p->run(shape4(in_shapes[0]), in[0], out[0], epilogue); }, *live);
      return;
    }
    const Algorithm algorithm = algorithm_for(in_shapes[0]);
    // Coded weights (kept compressed) arrive decoded at run time: prepared for this run only.
    Kernel per_run;
    const Kernel* kernel = &kernel_;
    if ((spec_.winograd_when_worth || algorithm != spec_.algorithm) && weight_ != nullptr) {
      Lazy& lazy = algorithm == Algorithm::winograd ? winograd_ : algorithm == Algorithm::sparse ? sparse_ : gemm_;
      std::call_once(lazy.once, [&] { lazy.kernel = prepare(spec_, algorithm, weights(weight_, nullptr)); });
      kernel = &lazy.kernel;
    } else if (empty(kernel_)) {
      per_run = prepare(spec_, algorithm, weights(in[1], spec_.algorithm == Algorithm::separable ? in[3] : nullptr));
      kernel = &per_run;
    }
    std::visit([&](const auto& p) { p->run(shape4(in_shapes[0]), in[0], out[0], epilogue); }, *kernel);
  }

  // A per-call algorithm is named with its alternatives, without the inputs' shapes.
  std::string describe() const override {
    std::string s = describe(spec_.few_outputs ? Algorithm::sparse : spec_.algorithm);
    if (spec_.winograd_when_worth) s += " (winograd from " + std::to_string(min_tiles()) + " output tiles)";
    if (spec_.few_outputs) s += " (gemm for an input of one pixel)";
    return s;
  }
  std::string describe_for(const std::vector<Dims>& inputs) const override {
    const auto taps = live_taps_of(inputs[0]);
    if (taps) return describe(spec_.algorithm, inputs[0][3], &*taps);
    const Algorithm algorithm = algorithm_for(inputs[0]);
    if (algorithm == Algorithm::gemm && inputs[0].size() == 4 && reads_one_pixel(inputs[0]))
      return "conv2d " + spec_.window.describe() + " of one pixel: linear " + pp_f32_gemv_config().name +
             (spec_.residual_input != 0 ? " + residual" : "") + activation_suffix(spec_.activation);
    return describe(algorithm, inputs[0][3], nullptr, inputs[0].size() == 4 ? &inputs[0] : nullptr);
  }

  // width: the input's (0: unknown); taps: the GEMM's live taps, if it runs them alone; x: the
  // input's shape, where known.
  std::string describe(Algorithm algorithm, size_t width = 0, const LiveTaps* taps = nullptr,
                       const Dims* x = nullptr) const {
    static const char* names[] = {"gemm", "depthwise", "sparse", "winograd", "separable"};
    std::string s = "conv2d " + spec_.window.describe();
    if (spec_.groups != 1) s += " g" + std::to_string(spec_.groups);
    s += std::string(" ") + names[static_cast<int>(algorithm)];
    switch (algorithm) {
      case Algorithm::sparse:
        s += " block " + std::to_string(spec_.block) + " " + pp_f32_spmm_config(spec_.block)->name;
        break;
      case Algorithm::winograd: {
        const size_t m = WinogradConv2d::default_tile();
        s += " F(" + std::to_string(m) + "x" + std::to_string(m) + ",3x3) " + pp_f32_winograd_input_config(m)->name +
             " " + pp_f32_gemm_config().name;
        break;
      }
      case Algorithm::depthwise:
        s += (taps != nullptr ? " on its " + std::to_string(taps->rows) + "x" + std::to_string(taps->cols) +
                                    " taps that read the input "
                              : std::string(" ")) +
             depthwise_ukernel_name(taps != nullptr ? live_window(spec_.window, *taps) : spec_.window, width);
        break;
      case Algorithm::separable:
        s += std::string(" ") + strip_ukernel_name();
        s += activation_suffix(spec_.depthwise_activation) + " -> 1x1 " + pp_f32_gemm_config(spec_.in_channels).name;
        break;
      case Algorithm::gemm:
        if (taps != nullptr) {
          s += " on its " + std::to_string(taps->rows) + "x" + std::to_string(taps->cols) + " taps that read the input " +
               Conv2d::default_ukernel_name(spec_.out_channels, spec_.in_channels, live_window(spec_.window, *taps),
                                            spec_.groups);
          break;
        }
        if (empty(kernel_)) {
          s += std::string(" ") + Conv2d::default_ukernel_name(spec_.out_channels, spec_.in_channels, spec_.window,
                                                               spec_.groups);
        } else {
          const Conv2d& conv = *std::get<std::unique_ptr<Conv2d>>(kernel_);
          s += std::string(" ") + (x != nullptr ? conv.ukernel_name_for(shape4(*x)) : conv.ukernel_name());
        }
        break;
    }
    if (spec_.residual_input != 0) s += " + residual";
    return s + activation_suffix(spec_.activation);
  }

  // Of the convolution as written (Winograd's too): a sparse one's without its zeros, a
  // separable one's both halves.
  size_t macs(const std::vector<Dims>& inputs) const override {
    const Dims y = output_shapes(inputs)[0];
    const size_t pixels = y[0] * y[2] * y[3];
    const size_t taps = spec_.window.kernel_h * spec_.window.kernel_w;
    if (spec_.algorithm == Algorithm::sparse && !empty(kernel_))
      return std::get<std::unique_ptr<SparseConv2d>>(kernel_)->weights().stored_values() * pixels;
    if (spec_.algorithm == Algorithm::separable)
      return (spec_.in_channels * taps + spec_.out_channels * spec_.in_channels) * pixels;
    return spec_.out_channels * (spec_.in_channels / spec_.groups) * taps * pixels;
  }

 private:
  // The kernels of a per-call algorithm, each prepared once, by the first call that needs it.
  struct Lazy {
    std::once_flag once;
    Kernel kernel;
  };

  // Winograd F(4x4, 3x3) for a call with enough output tiles (of the whole batch), when the
  // node leaves it to us. A dilated convolution runs on the input's phases, each
  // ceil(H / dilation) x ceil(W / dilation) outputs in tiles of its own, gathered and scattered
  // around the transforms: it takes Winograd only where the share of the tiles' outputs that are
  // real, times the channels per group (the fewer of input's and output's: what the saved
  // multiplies scale with against the per-element copies), reaches kWinogradDilatedWork. AVX2,
  // 1 thread, Winograd's speed over the GEMM's: ASPP's dilations 6, 12, 18 on 14x14 features,
  // 320 -> 128 channels (34 %, 9 %, 4 % of the tiles' outputs real: 43, 12, 5) 0.67-0.81x,
  // 0.26x, 0.12x; 256 -> 256 on 33x33 at 47 % and 21 % (120, 54) 1.33-1.68x and 0.74x; 2048 ->
  // 256 on 28x28 at 34 % (87) 1.54x; 128 -> 128 on 28x28, dilation 2, 77 % (99) 2.3x.
  // Else a dense one of few outputs runs sparse, but on an input of one pixel (a linear layer).
  Algorithm algorithm_for(const Dims& x) const {
    if (x.size() != 4) return spec_.algorithm;
    const Algorithm otherwise = spec_.few_outputs && !reads_one_pixel(x) ? Algorithm::sparse : spec_.algorithm;
    if (!spec_.winograd_when_worth) return otherwise;
    const Shape4 y = window_output(shape4(x), spec_.out_channels, spec_.window);
    const size_t dh = spec_.window.dilation_h, dw = spec_.window.dilation_w;
    const size_t tiles = y.n * dh * dw * pp_divide_round_up(pp_divide_round_up(y.h, dh), 4) *
                         pp_divide_round_up(pp_divide_round_up(y.w, dw), 4);
    if (tiles < min_tiles()) return otherwise;
    if (dh * dw == 1) return Algorithm::winograd;
    const double real = static_cast<double>(y.n * y.h * y.w) / (16.0 * static_cast<double>(tiles));
    return real * static_cast<double>(group_channels(spec_)) >= kWinogradDilatedWork ? Algorithm::winograd
                                                                                      : otherwise;
  }
  static constexpr double kWinogradDilatedWork = 70.0;
  // Whether the GEMM prepared at construction takes an input of this shape as one pixel.
  bool reads_one_pixel(const Dims& x) const {
    return !empty(kernel_) && std::holds_alternative<std::unique_ptr<Conv2d>>(kernel_) &&
           std::get<std::unique_ptr<Conv2d>>(kernel_)->reads_one_pixel(shape4(x));
  }
  size_t min_tiles() const {
    return spec_.groups == 1 || group_channels(spec_) >= kWinogradSmallGroupChannels ? winograd_min_tiles()
                                                                                      : winograd_small_group_min_tiles();
  }

  // Where some taps read only padding for this input size, of a GEMM node (Winograd's too) or a
  // depthwise one (a 7x7 window on a 2x2 plane) whose weights the graph holds: the taps that read
  // the input, else nothing.
  std::optional<LiveTaps> live_taps_of(const Dims& x) const {
    if (weight_ == nullptr || (spec_.algorithm != Algorithm::gemm && spec_.algorithm != Algorithm::depthwise) ||
        x.size() != 4)
      return std::nullopt;
    return live_taps(spec_.window, shape4(x));
  }
  // The node's kernel of those taps alone, prepared the first time an input size needs it.
  const Kernel* live_taps_kernel(const Dims& x) const {
    const auto taps = live_taps_of(x);
    if (!taps) return nullptr;
    std::lock_guard<std::mutex> lock(live_mutex_);
    Kernel& kernel = live_kernels_[*taps];
    if (empty(kernel)) {
      const std::vector<float> weight =
          live_weight(weight_, spec_.out_channels, spec_.in_channels / spec_.groups, spec_.window, *taps);
      Spec live = spec_;
      live.window = live_window(spec_.window, *taps);
      kernel = prepare(live, spec_.algorithm, weights(weight.data(), nullptr));
    }
    return &kernel;
  }

  static const float* data(const std::vector<float>& v) { return v.empty() ? nullptr : v.data(); }
  Weights weights(const float* weight, const float* pointwise) const {
    return {weight, data(bias_), pointwise, data(pointwise_bias_)};
  }

  static const char* name_or_unknown(const char* name) { return name != nullptr ? name : "?"; }
  // The fused separable driver runs the depthwise half through strips.
  const char* strip_ukernel_name() const {
    const Window2d& w = spec_.window;
    const auto* k = pp_f32_dwconv2d_chw_config(static_cast<int>(w.kernel_h), static_cast<int>(w.stride_h));
    return name_or_unknown(k != nullptr ? k->name : nullptr);
  }

  Spec spec_;
  const float* weight_;  // the graph's (input 1), nullptr when coded
  std::vector<float> bias_, pointwise_bias_;
  Kernel kernel_;  // holds nullptr when weights are coded or the algorithm is per call
  mutable Lazy gemm_, winograd_, sparse_;
  mutable std::mutex live_mutex_;
  mutable std::map<LiveTaps, Kernel> live_kernels_;  // by the live taps of an input size
};

std::array<int64_t, 2> signed_pair(size_t a, size_t b) { return {static_cast<int64_t>(a), static_cast<int64_t>(b)}; }

// Why Winograd does not take the convolution, or "" when it does (any groups).
std::string winograd_rejects(const Spec& s) {
  const Window2d& w = s.window;
  return winograd_conv2d_rejects(signed_pair(w.kernel_h, w.kernel_w), signed_pair(w.stride_h, w.stride_w),
                                 signed_pair(w.dilation_h, w.dilation_w), 1,
                                 {static_cast<int64_t>(w.pad_top), static_cast<int64_t>(w.pad_left),
                                  static_cast<int64_t>(w.pad_bottom), static_cast<int64_t>(w.pad_right)});
}

// "auto"'s choice between the sparse kernels (setting s.block) and the GEMM for a weight no
// depthwise kernel takes, by its density; a dense one of few outputs keeps the GEMM as its
// algorithm, for an input of one pixel, and runs sparse on the others where Winograd does not
// run it (s.few_outputs; SparseRule).
Algorithm sparse_or_gemm(Spec& s, const Constant& weight) {
  const bool pointwise = s.window.kernel_h == 1 && s.window.kernel_w == 1 && s.window.stride_h == 1 &&
                         s.window.stride_w == 1 && s.window.pad_top + s.window.pad_left + s.window.pad_bottom +
                                                           s.window.pad_right == 0;
  if (s.groups != 1 || !sparse_window_rejects(s.window).empty()) return Algorithm::gemm;
  const SparseRule& rule = sparse_rule();
  std::vector<float> storage;
  const auto [block, density] = cheapest_block(constant_floats(weight, storage), weight.shape[0],
                                               elements(weight.shape) / weight.shape[0], rule.block_costs);
  s.block = block;
  if (density <= (pointwise ? rule.pointwise_max_density : rule.conv_max_density)) return Algorithm::sparse;
  s.few_outputs = s.window.kernel_h * s.window.kernel_w > 1 && s.out_channels <= rule.few_outputs &&
                  !Conv2d::runs_direct(s.in_channels, s.window, s.groups) && weight.dense != nullptr;
  return Algorithm::gemm;
}

// The algorithm the node asks for, checked against what the kernels take.
Algorithm choose(const Attributes& a, Spec& s, const Constant& weight) {
  const std::string asked = a.text("algorithm", kAlgorithms, "auto");
  const bool depthwise_shape = s.groups == s.in_channels && s.groups == s.out_channels;
  const std::string depthwise_rejects =
      depthwise_shape ? "" : "it is not depthwise (groups == input channels == output channels)";
  if (asked != "sparse" && a.has("block")) a.fail("attribute 'block' applies only to algorithm 'sparse'");
  if (asked == "depthwise" || asked == "separable") {
    // The fused separable driver runs its depthwise half through the strip kernels.
    const std::string rejects =
        depthwise_rejects.empty() && asked == "separable" ? depthwise_strip_rejects(s.window) : depthwise_rejects;
    if (!rejects.empty()) a.fail("algorithm '" + asked + "' does not take this convolution: " + rejects);
    return asked == "depthwise" ? Algorithm::depthwise : Algorithm::separable;
  }
  if (asked == "sparse") {
    std::string rejects = s.groups != 1 ? "groups must be 1, got " + std::to_string(s.groups) : sparse_window_rejects(s.window);
    if (rejects.empty()) rejects = sparse_block_rejects(static_cast<int64_t>(s.block));
    if (!rejects.empty()) a.fail("algorithm 'sparse' does not take this convolution: " + rejects);
    return Algorithm::sparse;
  }
  if (asked == "winograd") {
    const std::string rejects = winograd_rejects(s);
    if (!rejects.empty()) a.fail("algorithm 'winograd' does not take this convolution: " + rejects);
    return Algorithm::winograd;
  }
  if (asked == "gemm") return Algorithm::gemm;
  return depthwise_rejects.empty() ? Algorithm::depthwise : sparse_or_gemm(s, weight);
}


// `w` padded TensorFlow's "SAME" way for an input of h x width: each dim to ceil(size / stride)
// outputs, the padding's odd one after (ONNX's auto_pad "SAME_UPPER").
Window2d same_upper(Window2d w, size_t h, size_t width) {
  const auto total = [](size_t size, size_t stride, size_t extent) -> size_t {
    if (size == 0) return size_t{0};  // no output to pad for: the window does not fit (as torch refuses it)
    const size_t reach = (pp_divide_round_up(size, stride) - 1) * stride + extent;
    return reach > size ? reach - size : 0;
  };
  const size_t th = total(h, w.stride_h, w.extent_h()), tw = total(width, w.stride_w, w.extent_w());
  w.pad_top = th / 2;
  w.pad_bottom = th - th / 2;
  w.pad_left = tw / 2;
  w.pad_right = tw - tw / 2;
  return w;
}

// A conv2d node of auto_pad "same_upper": the Conv2dOperator of the padding an input's size
// calls for, each made the first time a size needs it. The padding depends on the size modulo
// the stride: at most stride_h x stride_w of them.
class SamePaddedConv2dOperator : public Operator {
 public:
  SamePaddedConv2dOperator(const Spec& spec, const float* weight, const float* pointwise, std::vector<float> bias,
                           std::vector<float> pointwise_bias)
      : spec_(spec), weight_(weight), pointwise_(pointwise), bias_(std::move(bias)),
        pointwise_bias_(std::move(pointwise_bias)) {}

  std::vector<Dims> output_shapes(const std::vector<Dims>& inputs) const override {
    return padded_for(inputs[0]).output_shapes(inputs);
  }
  void run(const std::vector<const float*>& in, const std::vector<Dims>& in_shapes, const std::vector<float*>& out,
           const std::vector<Dims>& out_shapes) const override {
    padded_for(in_shapes[0]).run(in, in_shapes, out, out_shapes);
  }
  std::string describe() const override { return "conv2d " + spec_.window.describe() + kSuffix; }
  std::string describe_for(const std::vector<Dims>& inputs) const override {
    return padded_for(inputs[0]).describe_for(inputs) + kSuffix;
  }
  size_t macs(const std::vector<Dims>& inputs) const override { return padded_for(inputs[0]).macs(inputs); }

 private:
  static constexpr const char* kSuffix = " (padded \"same_upper\")";

  const Conv2dOperator& padded_for(const Dims& x) const {
    if (x.size() != 4) throw std::invalid_argument("x must be NCHW (4 dims), got shape " + to_string(x));
    const Window2d window = same_upper(spec_.window, x[2], x[3]);
    const std::array<size_t, 4> padding = {window.pad_top, window.pad_left, window.pad_bottom, window.pad_right};
    std::lock_guard<std::mutex> lock(mutex_);
    std::unique_ptr<Conv2dOperator>& op = by_padding_[padding];
    if (op == nullptr) {
      Spec padded = spec_;
      padded.window = window;
      op = std::make_unique<Conv2dOperator>(padded, weight_, pointwise_, bias_, pointwise_bias_);
    }
    return *op;
  }

  Spec spec_;  // its window unpadded
  const float *weight_, *pointwise_;
  std::vector<float> bias_, pointwise_bias_;
  mutable std::mutex mutex_;
  mutable std::map<std::array<size_t, 4>, std::unique_ptr<Conv2dOperator>> by_padding_;
};

// The largest stride, padding, dilation, group count or sparse block a node may ask for.
constexpr int64_t kMaxSize = int64_t{1} << 30;

// The window of a kh x kw kernel that the node's `stride`, `padding` and `dilation` attributes
// describe (conv2d's and dynamic_conv2d's).
Window2d window_attributes(const Attributes& a, size_t kh, size_t kw) {
  const auto stride = a.integers("stride", 2, 1, kMaxSize, {1, 1});
  const auto padding = a.integers("padding", 4, 0, kMaxSize, {0, 0, 0, 0});
  const auto dilation = a.integers("dilation", 2, 1, kMaxSize, {1, 1});
  const auto size = [](int64_t v) { return static_cast<size_t>(v); };
  return {kh, kw, size(stride[0]), size(stride[1]), size(dilation[0]), size(dilation[1]),
          size(padding[0]), size(padding[1]), size(padding[2]), size(padding[3])};
}

// conv2d of a weight computed at run time (see the top of the file): inputs x (N, C, H, W),
// weight (O, C / groups, kh, kw), an optional bias (O,).
class DynamicConv2dOperator : public Operator {
 public:
  // `window`: the attributes' stride, padding and dilation; its kernel is the weight's on each call.
  explicit DynamicConv2dOperator(const Window2d& window) : window_(window) {}

  std::vector<Dims> output_shapes(const std::vector<Dims>& inputs) const override {
    const Spec s = spec(inputs);
    const Shape4 y = window_output(shape4(inputs[0]), s.out_channels, s.window);
    return {{y.n, y.c, y.h, y.w}};
  }

  void run(const std::vector<const float*>& in, const std::vector<Dims>& in_shapes, const std::vector<float*>& out,
           const std::vector<Dims>&) const override {
    const Spec s = spec(in_shapes);
    const Kernel kernel = prepare(s, s.algorithm, {in[1], in.size() == 3 ? in[2] : nullptr, nullptr, nullptr});
    std::visit([&](const auto& p) { p->run(shape4(in_shapes[0]), in[0], out[0], Epilogue()); }, kernel);
  }

  std::string describe() const override { return "conv2d of a computed weight"; }
  std::string describe_for(const std::vector<Dims>& inputs) const override {
    const Spec s = spec(inputs);
    return "conv2d " + s.window.describe() + (s.groups != 1 ? " g" + std::to_string(s.groups) : "") +
           " of a computed weight, " + (s.algorithm == Algorithm::depthwise ? "depthwise" : "gemm");
  }

  size_t macs(const std::vector<Dims>& inputs) const override {
    const Dims y = output_shapes(inputs)[0];
    return y[0] * y[1] * y[2] * y[3] * inputs[1][1] * inputs[1][2] * inputs[1][3];
  }

 private:
  // The convolution these shapes make; std::invalid_argument naming what does not fit.
  Spec spec(const std::vector<Dims>& inputs) const {
    if (inputs.size() < 2 || inputs.size() > 3)
      throw std::invalid_argument("dynamic_conv2d takes 2 or 3 inputs (x, weight, [bias]), got " +
                                  std::to_string(inputs.size()));
    const Dims &x = inputs[0], &w = inputs[1];
    if (x.size() != 4) throw std::invalid_argument("x must be NCHW (4 dims), got shape " + to_string(x));
    if (w.size() != 4 || elements(w) == 0)
      throw std::invalid_argument("the weight must have shape (Cout, Cin / groups, kh, kw), got " + to_string(w));
    if (x[1] % w[1] != 0)
      throw std::invalid_argument("the weight's " + std::to_string(w[1]) + " channels a group do not divide the " +
                                  std::to_string(x[1]) + " of x " + to_string(x));
    Spec s{};
    s.in_channels = x[1];
    s.out_channels = w[0];
    s.groups = x[1] / w[1];
    s.block = 1;
    if (s.out_channels % s.groups != 0)
      throw std::invalid_argument("the " + std::to_string(s.groups) + " groups (x's channels over the weight's dim 1) " +
                                  "must divide the weight's " + std::to_string(s.out_channels) + " output channels");
    if (inputs.size() == 3 && inputs[2] != Dims{s.out_channels})
      throw std::invalid_argument("the bias must have shape (" + std::to_string(s.out_channels) + ",), got " +
                                  to_string(inputs[2]));
    s.window = window_;
    s.window.kernel_h = w[2];
    s.window.kernel_w = w[3];
    const std::string rejects = conv2d_window_rejects(s.window);
    if (!rejects.empty()) throw std::invalid_argument(rejects);
    const bool depthwise = s.groups == s.in_channels && s.groups == s.out_channels;
    s.algorithm = depthwise ? Algorithm::depthwise : Algorithm::gemm;
    return s;
  }

  Window2d window_;
};

// A bias input's values (decoded if coded), checked to have `channels` entries.
std::vector<float> bias_values(const Attributes& a, const Constant& b, size_t channels, const std::string& what) {
  if (b.shape != Dims{channels})
    a.fail("the " + what + " must have shape (" + std::to_string(channels) + ",), got " + to_string(b.shape));
  std::vector<float> storage;
  const float* values = constant_floats(b, storage);
  return {values, values + channels};
}

}  // namespace

std::unique_ptr<Operator> make_conv2d(const Attributes& a, const std::vector<const Constant*>& constants) {
  std::vector<std::string> known = {"stride", "padding", "dilation", "groups", "algorithm", "block", "auto_pad"};
  for (const std::string& name : activation_attribute_names()) known.push_back(name);
  const std::vector<std::string> depthwise_names = activation_attribute_names(kDepthwise);
  known.insert(known.end(), depthwise_names.begin(), depthwise_names.end());
  a.only(known);
  const bool separable = a.text("algorithm", kAlgorithms, "auto") == "separable";
  for (const std::string& name : depthwise_names)
    if (!separable && a.has(name.c_str())) a.fail("attribute '" + name + "' applies only to algorithm 'separable'");
  if (separable && (constants.size() < 5 || constants.size() > 6))
    a.fail("algorithm 'separable' takes 5 or 6 inputs (x, depthwise weight, depthwise bias, pointwise weight, "
           "pointwise bias, [residual]), got " + std::to_string(constants.size()));
  if (!separable && (constants.size() < 2 || constants.size() > 4))
    a.fail("conv2d takes 2 to 4 inputs (x, weight, [bias], [residual]), got " + std::to_string(constants.size()));
  const Constant& weight = constant_input(a, constants, 1, separable ? "depthwise weight" : "weight");
  if (weight.shape.size() != 4 || elements(weight.shape) == 0)
    a.fail(std::string("the ") + (separable ? "depthwise weight must have shape (C, 1, kh, kw)"
                                            : "weight must have shape (Cout, Cin / groups, kh, kw)") +
           ", got " + to_string(weight.shape));
  const bool bias_given = separable || (constants.size() >= 3 && constants[2] != nullptr);
  if (!separable && constants.size() == 4 && !bias_given)
    a.fail("input 2 (bias) must be a constant when a residual follows it");

  const bool same_upper = a.text("auto_pad", {"none", "same_upper"}, "none") == "same_upper";
  if (same_upper && a.has("padding"))
    a.fail("attribute 'padding' cannot go with auto_pad 'same_upper', whose padding is the input size's");
  Spec s{};
  s.window = window_attributes(a, weight.shape[2], weight.shape[3]);
  s.groups = static_cast<size_t>(a.integer("groups", 1, kMaxSize, 1));
  s.out_channels = weight.shape[0];
  s.in_channels = weight.shape[1] * s.groups;
  if (s.out_channels % s.groups != 0)
    a.fail("attribute 'groups' (" + std::to_string(s.groups) + ") must divide the " + std::to_string(s.out_channels) +
           " output channels");
  const std::string window_rejects = conv2d_window_rejects(s.window);
  if (!window_rejects.empty()) a.fail(window_rejects);
  s.block = static_cast<size_t>(a.integer("block", 1, kMaxSize, 1));
  s.algorithm = choose(a, s, weight);
  // Weights kept compressed stay off Winograd: they are prepared on every run, and its are 4x
  // their size. Groups of one channel stay on the GEMM: their transforms cost more than the
  // multiplications they save.
  s.winograd_when_worth = a.text("algorithm", kAlgorithms, "auto") == "auto" && s.algorithm == Algorithm::gemm &&
                          weight.dense != nullptr && winograd_rejects(s).empty() &&
                          (s.groups == 1 || group_channels(s) >= 2);
  s.activation = activation_attributes(a);
  if (separable) s.depthwise_activation = activation_attributes(a, kDepthwise);

  std::vector<float> bias, pointwise_bias;
  if (bias_given)
    bias = bias_values(a, constant_input(a, constants, 2, separable ? "depthwise bias" : "bias"), s.out_channels,
                       separable ? "depthwise bias" : "bias");
  const float* pointwise = nullptr;
  if (separable) {
    const Constant& pw = constant_input(a, constants, 3, "pointwise weight");
    if (pw.shape.size() != 4 || pw.shape[0] == 0 || pw.shape[1] != s.in_channels || pw.shape[2] != 1 ||
        pw.shape[3] != 1)
      a.fail("the pointwise weight must have shape (Cout, " + std::to_string(s.in_channels) + ", 1, 1), got " +
             to_string(pw.shape));
    pointwise = pw.dense;
    s.out_channels = pw.shape[0];
    pointwise_bias =
        bias_values(a, constant_input(a, constants, 4, "pointwise bias"), s.out_channels, "pointwise bias");
    s.residual_input = constants.size() == 6 ? 5 : 0;
  } else {
    s.residual_input = constants.size() == 4 ? 3 : constants.size() == 3 && !bias_given ? 2 : 0;
  }
  try {
    if (same_upper)
      return std::make_unique<SamePaddedConv2dOperator>(s, weight.dense, pointwise, std::move(bias),
                                                        std::move(pointwise_bias));
    return std::make_unique<Conv2dOperator>(s, weight.dense, pointwise, std::move(bias), std::move(pointwise_bias));
  } catch (const std::invalid_argument& e) {
    a.fail(e.what());
  }
}

std::unique_ptr<Operator> make_dynamic_conv2d(const Attributes& a, const std::vector<const Constant*>& constants) {
  a.only({"stride", "padding", "dilation"});
  if (constants.size() < 2 || constants.size() > 3)
    a.fail("dynamic_conv2d takes 2 or 3 inputs (x, weight, [bias]), got " + std::to_string(constants.size()));
  return std::make_unique<DynamicConv2dOperator>(window_attributes(a, 1, 1));
}

}  // namespace pyprune::graph
