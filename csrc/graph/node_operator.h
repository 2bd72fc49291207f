// What the operators of csrc/graph/ share: the node they belong to, for error messages that
// name it, and the checks of their inputs' count and ranks.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "pyprune/graph/operator.h"

namespace pyprune::graph {

// The largest value of an `axis` attribute.
constexpr int64_t kMaxAxis = static_cast<int64_t>(kMaxRank) - 1;

class NodeOperator : public Operator {
 protected:
  explicit NodeOperator(const Attributes& attrs) : node_(attrs.node()) {}

  [[noreturn]] void fail(const std::string& what) const { throw std::invalid_argument(node_ + ": " + what); }

  // Between `min` and `max` inputs (kAnyCount: no limit), each of rank at most kMaxRank.
  static constexpr size_t kAnyCount = static_cast<size_t>(-1);
  void expect_inputs(const std::vector<Dims>& inputs, size_t min, size_t max) const {
    if (inputs.size() < min || inputs.size() > max)
      fail("takes " +
           (min == max       ? std::to_string(min)
            : max == kAnyCount ? "at least " + std::to_string(min)
                               : std::to_string(min) + " to " + std::to_string(max)) +
           (max == 1 ? " input" : " inputs") + ", got " + std::to_string(inputs.size()));
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

  // Runs f, naming the node in the std::length_error of a size that overflows.
  template <class F>
  auto sized(F&& f) const -> decltype(f()) {
    try {
      return f();
    } catch (const std::length_error& e) {
      throw std::length_error(node_ + ": " + e.what());
    }
  }
  // An output shape's elements must fit in memory sizes.
  void expect_size(const Dims& y) const {
    sized([&] { return elements(y); });
  }

  const std::string& node() const { return node_; }

 private:
  std::string node_;
};

}  // namespace pyprune::graph
