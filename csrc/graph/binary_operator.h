// What the operators of two inputs broadcast together share (add ... minimum, floor_divide,
// remainder): the output's shape, numpy's broadcast of a and b, and the loop walking the
// output, a and b together.
#pragma once

#include <optional>
#include <vector>

#include "node_operator.h"
#include "strided.h"

namespace pyprune::graph {

class BinaryOperator : public NodeOperator {
 public:
  std::vector<Dims> output_shapes(const std::vector<Dims>& inputs) const override {
    expect_inputs(inputs, 2, 2);
    const std::optional<Dims> y = broadcast(inputs);
    if (!y) fail("cannot broadcast a of shape " + to_string(inputs[0]) + " with b of shape " + to_string(inputs[1]));
    expect_size(*y);
    return {*y};
  }

 protected:
  using NodeOperator::NodeOperator;

  // Offsets 0, 1, 2: the output, a, b.
  static StridedLoop<3> broadcast_loop(const std::vector<Dims>& in_shapes, const Dims& y) {
    return StridedLoop<3>(y, {broadcast_strides(y, y), broadcast_strides(in_shapes[0], y),
                              broadcast_strides(in_shapes[1], y)});
  }
};

}  // namespace pyprune::graph
