// A node's attributes from a Python dict (int, float, str, or lists of numbers).
#pragma once

#include <pybind11/pybind11.h>

#include <map>
#include <string>

#include "pyprune/graph/operator.h"

namespace pyprune::bindings {

// TypeError/ValueError naming the attribute for values of another kind (bools included).
pyprune::graph::Attributes attributes(const std::string& node, const pybind11::dict& attrs);
// The same values, for a graph's node; messages start with `where` (e.g. "nodes[3]: ").
std::map<std::string, pyprune::graph::AttributeValue> attribute_values(const pybind11::dict& attrs,
                                                                       const std::string& where);

}  // namespace pyprune::bindings
