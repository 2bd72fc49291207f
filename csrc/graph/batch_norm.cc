// batch_norm: y = x * scale[c] + shift[c], c the index along dim 1 (BatchNorm in inference
// form, for the BatchNorms the optimiser could not fold into a convolution). x has rank 2 or
// more (N, C, ...); scale and shift are constants of shape (C,).
#include <algorithm>
#include <memory>
#include <stdexcept>

#include "pyprune/common.h"
#include "pyprune/graph/factories.h"
#include "pyprune/graph/fused.h"
#include "pyprune/threadpool.h"

namespace pyprune::graph {
namespace {

class BatchNormOperator : public Operator {
 public:
  BatchNormOperator(std::vector<float> scale, std::vector<float> shift)
      : scale_(std::move(scale)), shift_(std::move(shift)) {}

  std::vector<Dims> output_shapes(const std::vector<Dims>& inputs) const override {
    const Dims& x = inputs[0];
    if (x.size() < 2 || x[1] != scale_.size())
      throw std::invalid_argument("x must have " + std::to_string(scale_.size()) +
                                  " channels in dim 1 (N, C, ...), got shape " + to_string(x));
    return {x};
  }

  void run(const std::vector<const float*>& in, const std::vector<Dims>& in_shapes, const std::vector<float*>& out,
           const std::vector<Dims>&) const override {
    const Dims& x = in_shapes[0];
    const size_t channels = x[1], planes = x[0] * channels, plane = elements(x) / std::max<size_t>(planes, 1);
    // Planes in chunks of about 16K floats: tasks worth their dispatch on small planes too.
    const size_t per_task = std::max<size_t>(1, 16384 / std::max<size_t>(plane, 1));
    parallel_for(pp_divide_round_up(planes, per_task), [&](size_t t) {
      size_t c = t * per_task % channels;  // counted along, not divided for: planes of one value ((N, C) inputs)
      for (size_t p = t * per_task; p < std::min(planes, (t + 1) * per_task); p++) {
        const float s = scale_[c], b = shift_[c];
        const float* src = in[0] + p * plane;
        float* dst = out[0] + p * plane;
        for (size_t i = 0; i < plane; i++) dst[i] = src[i] * s + b;
        if (++c == channels) c = 0;
      }
    });
  }

  std::string describe() const override { return "batch_norm " + std::to_string(scale_.size()) + " channels"; }

 private:
  std::vector<float> scale_, shift_;
};

std::vector<float> channel_vector(const Attributes& a, const std::vector<const Constant*>& constants, size_t index,
                                  const char* what) {
  const Constant& c = constant_input(a, constants, index, what);
  if (c.shape.size() != 1 || c.shape[0] == 0)
    a.fail(std::string("the ") + what + " must have shape (C,), got " + to_string(c.shape));
  std::vector<float> storage;
  const float* values = constant_floats(c, storage);
  return std::vector<float>(values, values + c.shape[0]);
}

}  // namespace

std::unique_ptr<Operator> make_batch_norm(const Attributes& a, const std::vector<const Constant*>& constants) {
  a.only({});
  if (constants.size() != 3) a.fail("batch_norm takes 3 inputs (x, scale, shift), got " + std::to_string(constants.size()));
  std::vector<float> scale = channel_vector(a, constants, 1, "scale"), shift = channel_vector(a, constants, 2, "shift");
  if (scale.size() != shift.size())
    a.fail("scale and shift must have the same shape, got (" + std::to_string(scale.size()) + ",) and (" +
           std::to_string(shift.size()) + ",)");
  return std::make_unique<BatchNormOperator>(std::move(scale), std::move(shift));
}

}  // namespace pyprune::graph
