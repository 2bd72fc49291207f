// What the graph's compute operators (conv2d, linear, batch_norm, activation, and the
// elementwise ones that fuse an activation) share: the activation attributes and access to
// their constant inputs. Python-free.
#pragma once

#include <string>
#include <vector>

#include "pyprune/activation.h"
#include "pyprune/graph/operator.h"

namespace pyprune::graph {

// The node's fused activation: `activation` (one of activation_names(), default "none"),
// `activation_min` / `activation_max` (a clamp's bounds, "clamp" only, default -inf / inf),
// `activation_alpha` ("leaky_relu"'s slope, default 0.01, and "elu"'s alpha, default 1), each name after
// `prefix` (a fused node's inner activation: conv2d's "depthwise_activation" etc.).
// std::invalid_argument naming the node and the attribute.
Activation activation_attributes(const Attributes& attributes, const std::string& prefix = "");
// Those attribute names (activation, _min, _max, _alpha), for Attributes::only.
std::vector<std::string> activation_attribute_names(const std::string& prefix = "");
// " + relu" etc. for an operator's describe(), "" for none.
std::string activation_suffix(const Activation& activation);

// Constant input `index` of a node; std::invalid_argument naming the node and `what` when the
// node has no such input or it is computed at run time.
const Constant& constant_input(const Attributes& attributes, const std::vector<const Constant*>& constants,
                               size_t index, const char* what);

// A constant's floats: dense ones in place, coded ones decoded into `storage`.
const float* constant_floats(const Constant& constant, std::vector<float>& storage);

}  // namespace pyprune::graph
