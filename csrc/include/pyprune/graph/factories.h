// The factories of the operator set, one per line of csrc/graph/operators.inc.
#pragma once

#include "pyprune/graph/operator.h"

namespace pyprune::graph {

#define PP_OPERATOR(name, factory) \
  std::unique_ptr<Operator> factory(const Attributes&, const std::vector<const Constant*>&);
#include "../../../graph/operators.inc"
#undef PP_OPERATOR

}  // namespace pyprune::graph
