// Activations alone: _core.activation (any rank, through the production microkernel of the
// kind or a named one) and the activation microkernel table of _core.testing.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "arrays.h"
#include "pyprune/activation.h"
#include "pyprune/dispatch.h"
#include "register.h"
#include "ukernel_rows.h"

namespace pyprune::bindings {

namespace {

py::array activation(const F32Arg& x_arg, const std::string& kind, float min, float max, float alpha,
                     const OptionalF32Arg& out_arg, const std::optional<std::string>& ukernel_name) {
  const py::array x = typed_array<float>(x_arg.obj, "x", -1, /*allow_empty=*/true);
  const Activation act = activation_arg(kind, min, max, alpha);
  const pp_f32_vunary_ukernel* ukernel = nullptr;
  if (ukernel_name) {
    ukernel = &pp_find_ukernel(pp_f32_vunary_ukernels(), *ukernel_name);
    if (ukernel->kind != act.kind) value_error("ukernel " + *ukernel_name + " is not a " + kind + " kernel");
  }
  const std::vector<py::ssize_t> shape(x.shape(), x.shape() + x.ndim());
  // In place (out is x itself) is fine elementwise; any other overlap is refused.
  const bool in_place = py::isinstance<py::array>(out_arg.obj) &&
                        py::reinterpret_borrow<py::array>(out_arg.obj).data() == x.data();
  py::array out = in_place ? output_array(out_arg.obj, shape, {}) : output_array(out_arg.obj, shape, {&x});
  const size_t n = static_cast<size_t>(x.size());
  const float* in = static_cast<const float*>(x.data());
  float* y = static_cast<float*>(out.mutable_data());
  {
    py::gil_scoped_release release;
    if (ukernel == nullptr) {
      apply_activation(act, in, y, n);
    } else if (n != 0) {
      const pp_f32_activation_params params = act.params();
      ukernel->fn(n, in, y, &params);
    }
  }
  return out;
}

}  // namespace

void register_activation(py::module_& m, py::module_& testing) {
  const float inf = std::numeric_limits<float>::infinity();
  m.def("activation", &activation, py::arg("x"), py::arg("kind"), py::arg("min") = -inf, py::arg("max") = inf,
        py::arg("alpha") = 0.0f, py::arg("out") = py::none(), py::arg("ukernel") = py::none(),
        "y = the activation `kind` of x, elementwise (any shape; out may be x): min/max bound a clamp, alpha is "
        "leaky_relu's slope or elu's alpha; `ukernel` names one row of testing.vunary_ukernels() instead of the production kernel.");
  testing.def("vunary_ukernels", [] {
    return ukernel_rows(pp_f32_vunary_ukernels(), [](py::dict& row, const auto& k) {
      row["kind"] = kind_name(k.kind);
      row["tile"] = k.tile;
    });
  });
}

}  // namespace pyprune::bindings
