// add, sub, mul, div, maximum, minimum: numpy broadcasting of a and b (ranks up to 6), then the fused activation.
// The broadcast is reduced to rows (strided.h) that the vbinary microkernels take: both operands
// vectors, or one of them a single value per row (the squeeze-excitation (N, C, H, W) x (N, C, 1, 1)
// becomes N*C rows of H*W with a scalar per row). Clamp activations run inside the kernels,
// others over each task's output while it is in cache.
#include "binary_operator.h"
#include "parallel_rows.h"
#include "pyprune/dispatch.h"
#include "pyprune/graph/factories.h"
#include "pyprune/graph/fused.h"

namespace pyprune::graph {
namespace {

// The same operation with the operands swapped (b op a), for rows where only a is broadcast.
pp_vbinary_op swapped(pp_vbinary_op op) {
  switch (op) {
    case pp_vbinary_sub: return pp_vbinary_rsub;
    case pp_vbinary_rsub: return pp_vbinary_sub;
    case pp_vbinary_div: return pp_vbinary_rdiv;
    case pp_vbinary_rdiv: return pp_vbinary_div;
    default: return op;
  }
}

class Binary final : public BinaryOperator {
 public:
  Binary(const Attributes& attrs, const char* name, pp_vbinary_op op)
      : BinaryOperator(attrs),
        name_(name),
        activation_(activation_attributes(attrs)),
        vector_(pp_f32_vbinary_config(op, false)),
        scalar_b_(pp_f32_vbinary_config(op, true)),
        scalar_a_(pp_f32_vbinary_config(swapped(op), true)) {
    attrs.only(activation_attribute_names());
  }

  void run(const std::vector<const float*>& in, const std::vector<Dims>& in_shapes, const std::vector<float*>& out,
           const std::vector<Dims>& out_shapes) const override {
    const Dims& y = out_shapes[0];
    const StridedLoop<3> loop = broadcast_loop(in_shapes, y);
    if (loop.empty()) return;
    // Row kernel and operand order: a row of a with a row of b, with b's one value, or b's row
    // with a's one value (the operation swapped).
    const bool a_vector = loop.inner_stride(1) != 0, b_vector = loop.inner_stride(2) != 0;
    const pp_f32_vbinary_ukernel& kernel = a_vector && b_vector ? vector_ : a_vector ? scalar_b_ : scalar_a_;
    const float* first = a_vector ? in[0] : in[1];
    const float* second = a_vector ? in[1] : in[0];
    const size_t k_first = a_vector ? 1 : 2, k_second = a_vector ? 2 : 1;
    const ptrdiff_t second_step = a_vector && b_vector ? 1 : 0;
    const pp_f32_minmax_params params = activation_.minmax();
    const size_t inner = loop.inner();
    float* const output = out[0];
    parallel_rows(loop.rows(), inner, [&](size_t row, size_t rows, size_t begin, size_t end) {
      loop.for_rows(row, rows, [&](const StridedLoop<3>::Offsets& offset) {
        kernel.fn(end - begin, first + offset[k_first] + begin, second + offset[k_second] + begin * second_step,
                  output + offset[0] + begin, &params);
      });
      if (!activation_.is_minmax())
        apply_activation(activation_, output + row * inner + begin, (rows - 1) * inner + end - begin);
    });
  }

  std::string describe() const override {
    return name_ + " " + pp_isa_name(vector_.isa) + activation_suffix(activation_);
  }

 private:
  std::string name_;
  Activation activation_;
  const pp_f32_vbinary_ukernel& vector_;
  const pp_f32_vbinary_ukernel& scalar_b_;
  const pp_f32_vbinary_ukernel& scalar_a_;
};

}  // namespace

std::unique_ptr<Operator> make_add(const Attributes& attrs, const std::vector<const Constant*>&) {
  return std::make_unique<Binary>(attrs, "add", pp_vbinary_add);
}
std::unique_ptr<Operator> make_sub(const Attributes& attrs, const std::vector<const Constant*>&) {
  return std::make_unique<Binary>(attrs, "sub", pp_vbinary_sub);
}
std::unique_ptr<Operator> make_mul(const Attributes& attrs, const std::vector<const Constant*>&) {
  return std::make_unique<Binary>(attrs, "mul", pp_vbinary_mul);
}
std::unique_ptr<Operator> make_div(const Attributes& attrs, const std::vector<const Constant*>&) {
  return std::make_unique<Binary>(attrs, "div", pp_vbinary_div);
}
std::unique_ptr<Operator> make_maximum(const Attributes& attrs, const std::vector<const Constant*>&) {
  return std::make_unique<Binary>(attrs, "maximum", pp_vbinary_max);
}
std::unique_ptr<Operator> make_minimum(const Attributes& attrs, const std::vector<const Constant*>&) {
  return std::make_unique<Binary>(attrs, "minimum", pp_vbinary_min);
}

}  // namespace pyprune::graph
