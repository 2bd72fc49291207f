// layer_norm (F.layer_norm over the trailing `axes` dims) and channel_norm (the same over dim 1
// of (N, C, ...): ConvNeXt's channels_first LayerNorm), each with an optional weight and then
// bias (inputs 1 and 2) of the normalised dims' shape. Statistics take two passes (the mean,
// then the mean square deviation from it), so large means do not cost accuracy; float lanes
// accumulate blocks that are added in double.
#include <algorithm>
#include <cmath>

#include "node_operator.h"
#include "parallel_rows.h"
#include "pyprune/graph/factories.h"
#include "row_reduce.h"

namespace pyprune::graph {
namespace {

// The shared part: attributes, the optional weight and bias, and their shape check.
class Norm : public NodeOperator {
 protected:
  Norm(const Attributes& attrs, double default_eps) : NodeOperator(attrs) {
    eps_ = attrs.real("eps", 0.0, 1.0, default_eps);
  }

  // x must allow `normalised` (the weight and bias shape); the affine inputs must have it.
  void expect_affine(const std::vector<Dims>& inputs, const Dims& normalised) const {
    for (size_t i = 1; i < inputs.size(); i++)
      if (inputs[i] != normalised)
        fail(std::string(i == 1 ? "weight" : "bias") + " must have shape " + to_string(normalised) + ", got " +
             to_string(inputs[i]));
  }

  static const float* optional(const std::vector<const float*>& in, size_t i) { return i < in.size() ? in[i] : nullptr; }

  double eps_;
};

class LayerNorm final : public Norm {
 public:
  explicit LayerNorm(const Attributes& attrs) : Norm(attrs, 1e-5) {
    attrs.only({"axes", "eps"});
    axes_ = static_cast<size_t>(attrs.integer("axes", 1, kMaxRank));
  }

  std::vector<Dims> output_shapes(const std::vector<Dims>& inputs) const override {
    expect_inputs(inputs, 1, 3);
    const Dims& x = inputs[0];
    if (x.size() < axes_)
      fail("attribute 'axes' normalises " + std::to_string(axes_) + " trailing dims but the input " + to_string(x) +
           " has rank " + std::to_string(x.size()));
    expect_affine(inputs, Dims(x.end() - axes_, x.end()));
    return {x};
  }

  void run(const std::vector<const float*>& in, const std::vector<Dims>& in_shapes, const std::vector<float*>& out,
           const std::vector<Dims>&) const override {
    const Dims& x = in_shapes[0];
    size_t n = 1;
    for (size_t d = x.size() - axes_; d < x.size(); d++) n *= x[d];
    if (n == 0) return;
    const float *weight = optional(in, 1), *bias = optional(in, 2);
    parallel_rows(elements(x) / n, 1, [&](size_t first, size_t count, size_t, size_t) {
      for (size_t r = first; r < first + count; r++) {
        const float* xr = in[0] + r * n;
        float* yr = out[0] + r * n;
        // The mean stays in double where outputs are made: rounded to float, it would cost short,
        // nearly constant rows most of their accuracy.
        const double mean = sum_row(xr, n) / static_cast<double>(n);
        const double rstd = 1.0 / std::sqrt(squares(xr, n, static_cast<float>(mean)) / static_cast<double>(n) + eps_);
        for (size_t i = 0; i < n; i++) {
          float v = static_cast<float>((xr[i] - mean) * rstd);
          if (weight != nullptr) v *= weight[i];
          if (bias != nullptr) v += bias[i];
          yr[i] = v;
        }
      }
    }, n);
  }

  std::string describe() const override { return "layer_norm over " + std::to_string(axes_) + " dims"; }

 private:
  // The sum of (x[i] - mean)^2: eight float lanes (vectorised) per block, blocks added in double.
  static double squares(const float* x, size_t n, float mean) {
    double total = 0.0;
    for (size_t b = 0; b < n; b += kSumBlock) {
      const size_t m = std::min(kSumBlock, n - b);
      float lanes[8] = {};
      size_t i = 0;
      for (; i + 8 <= m; i += 8)
        for (size_t l = 0; l < 8; l++) {
          const float d = x[b + i + l] - mean;
          lanes[l] += d * d;
        }
      for (; i < m; i++) lanes[0] += (x[b + i] - mean) * (x[b + i] - mean);
      total += ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
    }
    return total;
  }

  size_t axes_;
};

class ChannelNorm final : public Norm {
 public:
  explicit ChannelNorm(const Attributes& attrs) : Norm(attrs, 1e-5) { attrs.only({"eps"}); }

  std::vector<Dims> output_shapes(const std::vector<Dims>& inputs) const override {
    expect_inputs(inputs, 1, 3);
    const Dims& x = inputs[0];
    if (x.size() < 2) fail("input must be (N, C, ...), got " + to_string(x));
    expect_affine(inputs, Dims{x[1]});
    return {x};
  }

  void run(const std::vector<const float*>& in, const std::vector<Dims>& in_shapes, const std::vector<float*>& out,
           const std::vector<Dims>&) const override {
    const Dims& x = in_shapes[0];
    const size_t channels = x[1], positions = elements(x) / std::max<size_t>(1, x[0] * channels);
    if (channels == 0) return;
    parallel_rows(x[0], positions, [&](size_t first, size_t count, size_t begin, size_t end) {
      for (size_t b = first; b < first + count; b++) {
        const size_t at = b * channels * positions;
        normalise(in[0] + at, out[0] + at, channels, positions, begin, end, optional(in, 1), optional(in, 2));
      }
    }, channels);
  }

  std::string describe() const override { return "channel_norm"; }

 private:
  // Positions [begin, end) of one image (channels rows of `positions` floats).
  void normalise(const float* x, float* y, size_t channels, size_t positions, size_t begin, size_t end,
                 const float* weight, const float* bias) const {
    thread_local std::vector<double> mean, rstd;
    const size_t w = end - begin;
    mean.assign(w, 0.0);
    rstd.assign(w, 0.0);
    for (size_t c = 0; c < channels; c++) {
      const float* row = x + c * positions + begin;
      for (size_t j = 0; j < w; j++) mean[j] += row[j];
    }
    for (size_t j = 0; j < w; j++) mean[j] /= static_cast<double>(channels);
    for (size_t c = 0; c < channels; c++) {
      const float* row = x + c * positions + begin;
      for (size_t j = 0; j < w; j++) rstd[j] += (row[j] - mean[j]) * (row[j] - mean[j]);
    }
    for (size_t j = 0; j < w; j++) rstd[j] = 1.0 / std::sqrt(rstd[j] / static_cast<double>(channels) + eps_);
    for (size_t c = 0; c < channels; c++) {
      const float* row = x + c * positions + begin;
      float* target = y + c * positions + begin;
      const float scale = weight != nullptr ? weight[c] : 1.0f, shift = bias != nullptr ? bias[c] : 0.0f;
      for (size_t j = 0; j < w; j++) target[j] = static_cast<float>((row[j] - mean[j]) * rstd[j]) * scale + shift;
    }
  }
};

}  // namespace

std::unique_ptr<Operator> make_layer_norm(const Attributes& attrs, const std::vector<const Constant*>&) {
  return std::make_unique<LayerNorm>(attrs);
}
std::unique_ptr<Operator> make_channel_norm(const Attributes& attrs, const std::vector<const Constant*>&) {
  return std::make_unique<ChannelNorm>(attrs);
}

}  // namespace pyprune::graph
