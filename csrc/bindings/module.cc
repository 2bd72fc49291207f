// pyprune._core: the only file that sees Python. Checks every argument and names the bad one,
// releases the GIL around kernels, and never links libtorch.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <algorithm>
#include <limits>
#include <string>

#include "pyprune/dispatch.h"
#include "pyprune/ops.h"
#include "pyprune/threadpool.h"

namespace py = pybind11;

namespace {

[[noreturn]] void type_error(const std::string& msg) { throw py::type_error(msg); }
[[noreturn]] void value_error(const std::string& msg) { throw py::value_error(msg); }

std::string shape_str(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t i = 0; i < a.ndim(); i++) s += (i ? ", " : "") + std::to_string(a.shape(i));
  return s + (a.ndim() == 1 ? ",)" : ")");
}

// A float32, C-contiguous, aligned array of the given rank; `name` goes into every message.
py::array float_array(const py::handle& obj, const char* name, py::ssize_t ndim) {
  if (!py::isinstance<py::array>(obj)) type_error(std::string(name) + " must be a numpy array");
  auto a = py::reinterpret_borrow<py::array>(obj);
  if (!a.dtype().is(py::dtype::of<float>()))
    type_error(std::string(name) + " must have dtype float32, got " +
               std::string(py::str(a.dtype())));
  if (a.ndim() != ndim)
    value_error(std::string(name) + " must have " + std::to_string(ndim) + " dimensions, got shape " +
                shape_str(a));
  if (!(a.flags() & py::array::c_style)) value_error(std::string(name) + " must be C-contiguous");
  if (reinterpret_cast<std::uintptr_t>(a.data()) % alignof(float) != 0)
    value_error(std::string(name) + " must be aligned to 4 bytes");
  for (py::ssize_t i = 0; i < ndim; i++)
    if (a.shape(i) == 0) value_error(std::string(name) + " must not be empty, got shape " + shape_str(a));
  return a;
}

bool overlap(const py::array& a, const py::array& b) {
  const char* a0 = static_cast<const char*>(a.data());
  const char* b0 = static_cast<const char*>(b.data());
  return a0 < b0 + b.nbytes() && b0 < a0 + a.nbytes();
}

const pp_f32_dwconv2d_chw_ukernel& dwconv_ukernel(const py::object& name, int kernel, int stride) {
  if (name.is_none()) {
    const auto* k = pp_f32_dwconv2d_chw_config(kernel, stride);
    if (k == nullptr) value_error("no depthwise kernel for this kernel size and stride");
    return *k;
  }
  const std::string wanted = py::cast<std::string>(name);
  const auto isas = pp_available_isas();
  for (const auto& k : pp_f32_dwconv2d_chw_ukernels()) {
    if (wanted != k.name) continue;
    if (k.kernel_size != kernel || k.stride != stride)
      value_error("ukernel " + wanted + " is for another kernel size or stride");
    if (std::find(isas.begin(), isas.end(), k.isa) == isas.end())
      value_error("ukernel " + wanted + " needs " + pp_isa_name(k.isa) + ", which this CPU lacks");
    return k;
  }
  value_error("unknown ukernel: " + wanted);
}

py::array depthwise_conv2d(const py::object& input_obj, const py::object& weight_obj,
                           const py::object& bias_obj, int stride, int padding, float min,
                           float max, const py::object& out_obj, const py::object& ukernel_name) {
  const py::array input = float_array(input_obj, "x", 4);
  const py::array weight = float_array(weight_obj, "weight", 4);
  const py::ssize_t n = input.shape(0), c = input.shape(1), h = input.shape(2), w = input.shape(3);
  if (weight.shape(0) != c || weight.shape(1) != 1)
    value_error("weight must have shape (C, 1, k, k) with C = " + std::to_string(c) +
                " channels of x (groups == channels), got " + shape_str(weight));
  const py::ssize_t k = weight.shape(2);
  if (weight.shape(3) != k || (k != 3 && k != 5))
    value_error("weight kernel must be 3x3 or 5x5, got " + std::to_string(weight.shape(2)) + "x" +
                std::to_string(weight.shape(3)));
  if (stride != 1 && stride != 2) value_error("stride must be 1 or 2, got " + std::to_string(stride));
  if (padding < 0 || padding > k / 2)
    value_error("padding must be in [0, " + std::to_string(k / 2) + "] for a " + std::to_string(k) +
                "x" + std::to_string(k) + " kernel, got " + std::to_string(padding));
  if (h + 2 * padding < k || w + 2 * padding < k)
    value_error("x of size " + std::to_string(h) + "x" + std::to_string(w) +
                " is smaller than the " + std::to_string(k) + "x" + std::to_string(k) +
                " kernel even with padding " + std::to_string(padding));
  if (min > max) value_error("activation minimum must not exceed its maximum");

  const float* bias = nullptr;
  py::array bias_array;
  if (!bias_obj.is_none()) {
    bias_array = float_array(bias_obj, "bias", 1);
    if (bias_array.shape(0) != c)
      value_error("bias must have shape (" + std::to_string(c) + ",), got " + shape_str(bias_array));
    bias = static_cast<const float*>(bias_array.data());
  }

  const pyprune::DepthwiseConv2dShape shape{
      static_cast<size_t>(n), static_cast<size_t>(c), static_cast<size_t>(h),
      static_cast<size_t>(w), static_cast<int>(k), stride, padding};
  const py::ssize_t oh = shape.output_height(), ow = shape.output_width();
  py::array out;
  if (out_obj.is_none()) {
    out = py::array_t<float>({n, c, oh, ow});
  } else {
    out = float_array(out_obj, "out", 4);
    if (out.shape(0) != n || out.shape(1) != c || out.shape(2) != oh || out.shape(3) != ow)
      value_error("out must have shape (" + std::to_string(n) + ", " + std::to_string(c) + ", " +
                  std::to_string(oh) + ", " + std::to_string(ow) + "), got " + shape_str(out));
    if (!out.writeable()) value_error("out must be writeable");
    if (overlap(out, input) || overlap(out, weight) || (bias && overlap(out, bias_array)))
      value_error("out must not share memory with x, weight or bias");
  }
  const auto& ukernel = dwconv_ukernel(ukernel_name, static_cast<int>(k), stride);
  const pp_f32_minmax_params params{min, max};
  const float* in_ptr = static_cast<const float*>(input.data());
  const float* w_ptr = static_cast<const float*>(weight.data());
  float* out_ptr = static_cast<float*>(out.mutable_data());
  {
    py::gil_scoped_release release;
    pyprune::depthwise_conv2d_nchw(shape, in_ptr, w_ptr, bias, out_ptr, params, ukernel);
  }
  return out;
}

}  // namespace

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
    if (n < 1) value_error("num_threads must be at least 1, got " + std::to_string(n));
    py::gil_scoped_release release;
    pyprune::set_num_threads(static_cast<size_t>(n));
  }, py::arg("num_threads"));
  m.def("get_num_threads", [] { return pyprune::get_num_threads(); });

  m.def("depthwise_conv2d", &depthwise_conv2d, py::arg("x"), py::arg("weight"),
        py::arg("bias") = py::none(), py::arg("stride") = 1, py::arg("padding") = 0,
        py::arg("min") = -std::numeric_limits<float>::infinity(),
        py::arg("max") = std::numeric_limits<float>::infinity(), py::arg("out") = py::none(),
        py::arg("ukernel") = py::none(),
        "NCHW depthwise conv2d: x (N, C, H, W), weight (C, 1, k, k), k in {3, 5}.");

  py::module_ testing = m.def_submodule("testing", "Every microkernel, for tests and benchmarks.");
  testing.def("dwconv2d_ukernels", [] {
    py::list rows;
    for (const auto& k : pp_f32_dwconv2d_chw_ukernels()) {
      py::dict row;
      row["name"] = k.name;
      row["isa"] = pp_isa_name(k.isa);
      row["kernel_size"] = k.kernel_size;
      row["stride"] = k.stride;
      row["tile_rows"] = k.tile_rows;
      row["tile_cols"] = k.tile_cols;
      rows.append(row);
    }
    return rows;
  });
}
