// pyprune._core. Only csrc/bindings sees Python: its files check every argument and name the
// bad one, release the GIL around kernels, and never link libtorch. One file per area, each
// with a register_* function called here.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "arrays.h"
#include "pyprune/dispatch.h"
#include "pyprune/threadpool.h"
#include "register.h"

namespace py = pybind11;

PYBIND11_MODULE(_core, m) {
  m.doc() = "pyprune's C++ kernels (NEON, AVX2 and reference variants)";
  m.attr("__version__") = PYPRUNE_VERSION;

  m.def("isa", [] { return pp_isa_name(pp_active_isa()); },
        "The instruction set the kernels use: 'neon', 'avx2' or 'scalar'.");
  m.def("available_isas", [] {
    std::vector<std::string> names;
    for (pp_isa isa : pp_available_isas()) names.push_back(pp_isa_name(isa));
    return names;
  }, "Instruction sets this build and CPU can run.");
  m.def("set_num_threads", [](py::ssize_t n) {
    if (n < 1) pyprune::bindings::value_error("num_threads must be at least 1, got " + std::to_string(n));
    py::gil_scoped_release release;
    pyprune::set_num_threads(static_cast<size_t>(n));
  }, py::arg("num_threads"));
  m.def("get_num_threads", [] { return pyprune::get_num_threads(); });

  py::module_ testing = m.def_submodule("testing", "Every microkernel, for tests and benchmarks.");
  pyprune::bindings::register_dense(m, testing);
  pyprune::bindings::register_sparse(m, testing);
  pyprune::bindings::register_huffman(m, testing);
}
