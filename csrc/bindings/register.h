// One registration function per binding file; module.cc calls them all.
#pragma once

#include <pybind11/pybind11.h>

namespace pyprune::bindings {

// `testing` is the _core.testing submodule: every microkernel table, for tests and benchmarks.
void register_dense(pybind11::module_& m, pybind11::module_& testing);
void register_sparse(pybind11::module_& m, pybind11::module_& testing);
void register_huffman(pybind11::module_& m, pybind11::module_& testing);
void register_activation(pybind11::module_& m, pybind11::module_& testing);
void register_winograd(pybind11::module_& m, pybind11::module_& testing);
void register_operators(pybind11::module_& testing);
void register_graph(pybind11::module_& m);
void register_graph_ukernels(pybind11::module_& testing);

}  // namespace pyprune::bindings
