// A node's attributes from a Python dict (int, float, str, or lists of numbers).
#pragma once

#include <pybind11/pybind11.h>

#include <string>

#include "pyprune/graph/operator.h"

namespace pyprune::bindings {

// TypeError/ValueError naming the attribute for values of another kind (bools included).
pyprune::graph::Attributes attributes(const std::string& node, const pybind11::dict& attrs);

}  // namespace pyprune::bindings
