// What the operators of csrc/graph/ share: the node they belong to, for error messages that
// name it, and the checks of their inputs' count and ranks.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "pyprune/graph/operator.h"

namespace pyprune::graph {

class NodeOperator : public Operator {
 protected:
  explicit NodeOperator(const Attributes& attrs) : node_(attrs.node()) {}

  [[noreturn]] void fail(const std::string& what) const { throw std::invalid_argument(node_ + ": " + what); }

  // Between `min` and `max` inputs, each of rank at most kMaxRank.
  void expect_inputs(const std::vector<Dims>& inputs, size_t min, size_t max) const {
    if (inputs.size() < min || inputs.size() > max)
      fail("takes " + (min == max ? std::to_string(min) : std::to_string(min) + " to " + std::to_string(max)) +
           " inputs, got " + std::to_string(inputs.size()));
    for (size_t i = 0; i < inputs.size(); i++)
      if (inputs[i].size() > kMaxRank)
        fail("input " + std::to_string(i) + " has rank " + std::to_string(inputs[i].size()) + ", more than " +
             std::to_string(kMaxRank));
  }

  // `axis` (non-negative: the lowering normalises negative axes) must be a dim of `x`.
  void expect_axis(const Dims& x, size_t axis, const char* attribute) const {
    if (axis >= x.size())
      fail(std::string("attribute '") + attribute + "' is " + std::to_string(axis) + " but the input " +
           to_string(x) + " has rank " + std::to_string(x.size()));
  }

  const std::string& node() const { return node_; }

 private:
  std::string node_;
};

}  // namespace pyprune::graph
