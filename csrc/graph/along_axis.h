// The operators that work along one axis of their one input and keep its shape (softmax,
// cumsum, cumprod): the input seen as (outer, n, inner) around attribute `axis`.
#pragma once

#include <vector>

#include "node_operator.h"
#include "strided.h"

namespace pyprune::graph {

class AlongAxis : public NodeOperator {
 public:
  std::vector<Dims> output_shapes(const std::vector<Dims>& inputs) const override {
    expect_inputs(inputs, 1, 1);
    expect_axis(inputs[0], axis_, "axis");
    return {inputs[0]};
  }

  void run(const std::vector<const float*>& in, const std::vector<Dims>& in_shapes, const std::vector<float*>& out,
           const std::vector<Dims>&) const override {
    const Dims& x = in_shapes[0];
    if (x[axis_] != 0) run_along(in[0], out[0], span(x, 0, axis_), x[axis_], span(x, axis_ + 1, x.size()));
  }

 protected:
  // Derived operators check their attributes' names (attrs.only), `axis` among them.
  explicit AlongAxis(const Attributes& attrs)
      : NodeOperator(attrs), axis_(static_cast<size_t>(attrs.integer("axis", 0, kMaxAxis))) {}

  // x and y hold outer * n * inner floats; n >= 1.
  virtual void run_along(const float* x, float* y, size_t outer, size_t n, size_t inner) const = 0;

  size_t axis_;
};

}  // namespace pyprune::graph
