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
    case pp_vbinary_max: return "max";
    case pp_vbinary_min: return "min";
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

// Row sums of a 2-D array through kernel `name`.
py::array rsum(const std::string& name, const F32Arg& x_arg) {
  const pp_f32_rsum_ukernel& k = pp_find_ukernel(pp_f32_rsum_ukernels(), name);
  const py::array x = typed_array<float>(x_arg.obj, "x", 2);
  py::array_t<float> y(x.shape(0));
  k.fn(static_cast<size_t>(x.shape(1)), static_cast<size_t>(x.shape(0)), static_cast<const float*>(x.data()),
       static_cast<size_t>(x.strides(0)), y.mutable_data());
  return y;
}

// The maximum or minimum of 1-D x through kernel `name`.
float rminmax(const std::string& name, const F32Arg& x_arg) {
  const pp_f32_rminmax_ukernel& k = pp_find_ukernel(pp_f32_rminmax_ukernels(), name);
  const py::array x = typed_array<float>(x_arg.obj, "x", 1);
  if (x.shape(0) == 0) value_error("x must not be empty");
  return k.fn(static_cast<size_t>(x.shape(0)), static_cast<const float*>(x.data()));
}

// exp(x - max) through kernel `name`, and the sum it returns.
py::tuple vexpsum(const std::string& name, const F32Arg& x_arg, float max) {
  const pp_f32_vexpsum_ukernel& k = pp_find_ukernel(pp_f32_vexpsum_ukernels(), name);
  const py::array x = typed_array<float>(x_arg.obj, "x", 1);
  py::array_t<float> y(x.shape(0));
  const float sum = k.fn(static_cast<size_t>(x.shape(0)), static_cast<const float*>(x.data()), max, y.mutable_data());
  return py::make_tuple(y, sum);
}

const char* vmath_op_name(pp_vmath_op op) {
  switch (op) {
    case pp_vmath_exp: return "exp";
    case pp_vmath_expm1: return "expm1";
    case pp_vmath_log: return "log";
    case pp_vmath_log1p: return "log1p";
  }
  return "?";
}

// op(x) of 1-D x through kernel `name`.
py::array vmath(const std::string& name, const F32Arg& x_arg) {
  const pp_f32_vmath_ukernel& k = pp_find_ukernel(pp_f32_vmath_ukernels(), name);
  const py::array x = typed_array<float>(x_arg.obj, "x", 1);
  py::array_t<float> y(x.shape(0));
  k.fn(static_cast<size_t>(x.shape(0)), static_cast<const float*>(x.data()), y.mutable_data());
  return y;
}

// n outputs of kernel `name` over the rows of x, `pad` columns of padding before them, which must
// hold the inputs they read and the overread.
py::array hpool(const std::string& name, const F32Arg& x_arg, const IntArg& n_arg, const IntArg& pad_arg) {
  const pp_f32_hpool_ukernel& k = pp_find_ukernel(pp_f32_hpool_ukernels(), name);
  const py::array x = typed_array<float>(x_arg.obj, "x", 2);
  const size_t n = count_arg(n_arg.obj, "n", 1), pad = count_arg(pad_arg.obj, "pad", 0);
  if (pad > k.kernel / 2)
    value_error("pad must be at most " + std::to_string(k.kernel / 2) + " for a kernel of " + std::to_string(k.kernel) +
                ", got " + std::to_string(pad));
  const size_t needed = (n - 1) * k.stride + k.kernel - pad + PP_HPOOL_OVERREAD;
  if (x.shape(0) < 1 || static_cast<size_t>(x.shape(1)) < needed)
    value_error("x must have at least one row of at least " + std::to_string(needed) + " elements for " +
                std::to_string(n) + " outputs, got " + shape_str(x));
  py::array_t<float> y(static_cast<py::ssize_t>(n));
  k.fn(n, static_cast<size_t>(x.shape(0)), pad, static_cast<const float*>(x.data()), static_cast<size_t>(x.strides(0)),
       y.mutable_data());
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
  testing.def("rsum_ukernels", [] {
    return ukernel_rows(pp_f32_rsum_ukernels(), [](py::dict& row, const pp_f32_rsum_ukernel& k) {
      row["channel_tile"] = k.channel_tile;
    });
  });
  testing.def("rsum", &rsum, py::arg("ukernel"), py::arg("x"), "The sums of the rows of 2-D x through one row-sum microkernel.");
  testing.def("rminmax_ukernels", [] {
    return ukernel_rows(pp_f32_rminmax_ukernels(), [](py::dict& row, const pp_f32_rminmax_ukernel& k) {
      row["op"] = k.op == pp_rminmax_max ? "max" : "min";
      row["tile"] = k.tile;
    });
  });
  testing.def("rminmax", &rminmax, py::arg("ukernel"), py::arg("x"),
              "The maximum or minimum of 1-D x (not empty) through one row extreme microkernel.");
  testing.def("vexpsum_ukernels", [] {
    return ukernel_rows(pp_f32_vexpsum_ukernels(), [](py::dict& row, const pp_f32_vexpsum_ukernel& k) {
      row["tile"] = k.tile;
    });
  });
  testing.def("vexpsum", &vexpsum, py::arg("ukernel"), py::arg("x"), py::arg("max"),
              "(exp(x - max), its sum) of 1-D x through one softmax exponential microkernel.");
  testing.def("vmath_ukernels", [] {
    return ukernel_rows(pp_f32_vmath_ukernels(), [](py::dict& row, const pp_f32_vmath_ukernel& k) {
      row["op"] = vmath_op_name(k.op);
      row["tile"] = k.tile;
    });
  });
  testing.def("vmath", &vmath, py::arg("ukernel"), py::arg("x"),
              "op(x) of 1-D x (not empty) through one elementwise math microkernel (exp, expm1, log, log1p).");
  testing.def("hpool_ukernels", [] {
    return ukernel_rows(pp_f32_hpool_ukernels(), [](py::dict& row, const pp_f32_hpool_ukernel& k) {
      row["op"] = k.op == pp_hpool_max ? "max" : "sum";
      row["kernel"] = k.kernel;
      row["stride"] = k.stride;
    });
  });
  testing.def("hpool", &hpool, py::arg("ukernel"), py::arg("x"), py::arg("n"), py::arg("pad") = 0,
              "n outputs of one row pooling microkernel over the rows of x, pad columns of padding before them "
              "(2-D; they must hold the inputs the outputs read, plus the kernels' overread).");
  testing.attr("HPOOL_OVERREAD") = PP_HPOOL_OVERREAD;
}

}  // namespace pyprune::bindings
