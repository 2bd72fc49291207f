// The fused activation of an operator's output: the attributes `activation` (one of
// activation_names()), `activation_min`/`activation_max` (clamp) and `activation_alpha`
// (leaky_relu slope), read and checked together.
#pragma once

#include <string>
#include <vector>

#include "pyprune/activation.h"
#include "pyprune/graph/operator.h"

namespace pyprune::graph {

// The attribute names fused_activation() reads, for Attributes::only.
const std::vector<std::string>& fused_activation_attributes();

// The activation the attributes describe (none when absent). std::invalid_argument naming the
// node and attribute for an unknown name, bounds the other way round, or a bound or slope given
// to an activation that has none.
Activation fused_activation(const Attributes& attrs);

// " + relu" etc. for describe(), "" for none.
std::string activation_suffix(const Activation& act);

}  // namespace pyprune::graph
