// The microkernels of the graph's operators in _core.testing: their tables and one call of any
// row, for the kernel tests (every row against the reference) and benchmarks.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>

#include "arrays.h"
#include "pyprune/dispatch.h"
#include "register.h"
#include "ukernel_rows.h"

namespace pyprune::bindings {

namespace {

const char* vbinary_op_name(pp_vbinary_op op) {
  switch (op) {
    case pp_vbinary_add: return "add";
    case pp_vbinary_sub: return "sub";
    case pp_vbinary_rsub: return "rsub";
    case pp_vbinary_mul: return "mul";
    case pp_vbinary_div: return "div";
    case pp_vbinary_rdiv: return "rdiv";
  }
  return "?";
}

// y = clamp(a op b) through kernel `name`; b has a's size, or one element for a scalar-b kernel.
py::array vbinary(const std::string& name, const F32Arg& a_arg, const F32Arg& b_arg, float min, float max) {
  const pp_f32_vbinary_ukernel& k = pp_find_ukernel(pp_f32_vbinary_ukernels(), name);
  const py::array a = typed_array<float>(a_arg.obj, "a", 1), b = typed_array<float>(b_arg.obj, "b", 1);
  const py::ssize_t b_size = k.scalar_b ? 1 : a.shape(0);
  if (b.shape(0) != b_size) value_error("b must have " + std::to_string(b_size) + " elements, got " + shape_str(b));
  py::array_t<float> y(a.shape(0));
  const pp_f32_minmax_params params{min, max};
  k.fn(static_cast<size_t>(a.shape(0)), static_cast<const float*>(a.data()), static_cast<const float*>(b.data()),
       y.mutable_data(), &params);
  return y;
}

}  // namespace

void register_graph_ukernels(py::module_& testing) {
  testing.def("vbinary_ukernels", [] {
    return ukernel_rows(pp_f32_vbinary_ukernels(), [](py::dict& row, const pp_f32_vbinary_ukernel& k) {
      row["op"] = vbinary_op_name(k.op);
      row["scalar_b"] = k.scalar_b;
      row["tile"] = k.tile;
    });
  });
  testing.def("vbinary", &vbinary, py::arg("ukernel"), py::arg("a"), py::arg("b"), py::arg("min"), py::arg("max"),
              "y = clamp(a op b, min, max) through one elementwise binary microkernel (b: one element for "
              "scalar-b kernels).");
}

}  // namespace pyprune::bindings
