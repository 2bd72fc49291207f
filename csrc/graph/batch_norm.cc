// batch_norm: y = act(x * scale[c] + shift[c]), c the index along dim 1 (BatchNorm in inference
// form, for the BatchNorms the optimiser could not fold into a convolution: a pre-activation
// network's BatchNorm + ReLU before each convolution). x has rank 2 or more (N, C, ...); scale
// and shift are constants of shape (C,).
#include <algorithm>
#include <memory>
#include <stdexcept>

#include "parallel_rows.h"
#include "pyprune/common.h"
#include "pyprune/dispatch.h"
#include "pyprune/graph/factories.h"
#include "pyprune/graph/fused.h"

namespace pyprune::graph {
namespace {

class BatchNormOperator : public Operator {
 public:
  BatchNormOperator(std::vector<float> scale, std::vector<float> shift, const Activation& activation)
      : scale_(std::move(scale)),
        shift_(std::move(shift)),
        activation_(activation),
        mul_(pp_f32_vbinary_config(pp_vbinary_mul, true)),
        add_(pp_f32_vbinary_config(pp_vbinary_add, true)),
        mul_rows_(pp_f32_vbinary_config(pp_vbinary_mul, false)),
        add_rows_(pp_f32_vbinary_config(pp_vbinary_add, false)) {}

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
    const pp_f32_minmax_params none = Activation{}.minmax(), clamp = activation_.minmax();
    // y = act(x * scale + shift) over n values, `step` 0 for a plane's one scale and shift (the
    // scalar kernels), 1 for a vector of them; in pieces small enough to stay in L1 between the
    // multiplication, the addition (with a clamp activation) and any other activation: one pass
    // over memory.
    constexpr size_t kPiece = 2048;
    auto affine = [&](size_t n, const float* src, const float* scale, const float* shift, size_t step, float* dst) {
      const pp_f32_vbinary_ukernel& mul = step == 0 ? mul_ : mul_rows_;
      const pp_f32_vbinary_ukernel& add = step == 0 ? add_ : add_rows_;
      for (size_t i = 0; i < n; i += kPiece) {
        const size_t m = std::min(kPiece, n - i);
        mul.fn(m, src + i, scale + i * step, dst + i, &none);
        add.fn(m, dst + i, shift + i * step, dst + i, &clamp);
        if (!activation_.is_minmax()) apply_activation(activation_, dst + i, m);
      }
    };
    if (plane == 1) {  // (N, C) features: rows of channels against the vectors
      parallel_rows(x[0], channels, [&](size_t first, size_t rows, size_t begin, size_t end) {
        for (size_t n = first; n < first + rows; n++)
          affine(end - begin, in[0] + n * channels + begin, &scale_[begin], &shift_[begin], 1,
                 out[0] + n * channels + begin);
      });
      return;
    }
    parallel_rows(planes, plane, [&](size_t first, size_t rows, size_t begin, size_t end) {
      for (size_t p = first; p < first + rows; p++)
        affine(end - begin, in[0] + p * plane + begin, &scale_[p % channels], &shift_[p % channels], 0,
               out[0] + p * plane + begin);
    });
  }

  std::string describe() const override {
    return "batch_norm " + std::to_string(scale_.size()) + " channels" + activation_suffix(activation_);
  }

 private:
  std::vector<float> scale_, shift_;
  Activation activation_;
  const pp_f32_vbinary_ukernel& mul_;  // by the plane's scale and shift
  const pp_f32_vbinary_ukernel& add_;
  const pp_f32_vbinary_ukernel& mul_rows_;  // by the vectors of them
  const pp_f32_vbinary_ukernel& add_rows_;
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
  a.only(activation_attribute_names());
  if (constants.size() != 3) a.fail("batch_norm takes 3 inputs (x, scale, shift), got " + std::to_string(constants.size()));
  std::vector<float> scale = channel_vector(a, constants, 1, "scale"), shift = channel_vector(a, constants, 2, "shift");
  if (scale.size() != shift.size())
    a.fail("scale and shift must have the same shape, got (" + std::to_string(scale.size()) + ",) and (" +
           std::to_string(shift.size()) + ",)");
  return std::make_unique<BatchNormOperator>(std::move(scale), std::move(shift), activation_attributes(a));
}

}  // namespace pyprune::graph
