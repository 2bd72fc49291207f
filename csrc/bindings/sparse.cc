// Sparse convolution: SparseConv2d holds the checked SparseMatrix and, per input size, the
// input offsets of its stored columns (pyprune/sparse.h).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "arrays.h"
#include "pyprune/capabilities.h"
#include "pyprune/dispatch.h"
#include "pyprune/sparse.h"
#include "register.h"
#include "ukernel_rows.h"

namespace pyprune::bindings {

namespace {

template <typename T, class Arg>
std::vector<T> to_vector(const Arg& arg, const char* name) {
  const py::array a = typed_array<T>(arg.obj, name, 1, /*allow_empty=*/true);
  const T* p = static_cast<const T*>(a.data());
  return std::vector<T>(p, p + a.shape(0));
}

template <typename T>
py::array to_numpy(const std::vector<T>& v) {
  return py::array_t<T>(static_cast<py::ssize_t>(v.size()), v.data());
}

const pp_f32_spmm_ukernel* spmm_ukernel_arg(const std::optional<std::string>& name) {
  return name ? &pp_find_ukernel(pp_f32_spmm_ukernels(), *name) : nullptr;
}

std::unique_ptr<SparseConv2d> from_dense(const F32Arg& weight_arg, const OptionalF32Arg& bias_arg,
                                         const IntArg& stride_arg, const IntArg& padding_arg, const IntArg& block_arg,
                                         const std::optional<std::string>& ukernel) {
  const py::array weight = float_array(weight_arg.obj, "weight", 4);
  const py::ssize_t cout = weight.shape(0), cin = weight.shape(1), k = weight.shape(2);
  if (weight.shape(3) != k) value_error("weight must have a square kernel (Cout, Cin, k, k), got " + shape_str(weight));
  const int64_t stride = int_arg(stride_arg.obj, "stride"), padding = int_arg(padding_arg.obj, "padding");
  const int64_t block = int_arg(block_arg.obj, "block");
  require(conv2d_rejects(k, stride, padding));
  require(sparse_block_rejects(block));
  const py::array bias = optional_vector(bias_arg.obj, "bias", cout);
  SparseMatrix m = SparseMatrix::from_dense(cout, cin * k * k, block, static_cast<const float*>(weight.data()),
                                            data_or_null(bias));
  return std::make_unique<SparseConv2d>(std::move(m), cin, Window2d::square(k, stride, padding),
                                        spmm_ukernel_arg(ukernel));
}

std::unique_ptr<SparseConv2d> from_arrays(const IntArg& out_channels_arg, const IntArg& in_channels_arg,
                                          const IntArg& kernel_arg, const IntArg& stride_arg, const IntArg& padding_arg,
                                          const IntArg& block_arg, const F32Arg& values, const I32Arg& deltas,
                                          const U32Arg& counts, const std::optional<std::string>& ukernel) {
  const size_t out_channels = count_arg(out_channels_arg.obj, "out_channels", 1);
  const size_t in_channels = count_arg(in_channels_arg.obj, "in_channels", 1);
  const size_t kernel_size = count_arg(kernel_arg.obj, "kernel_size", 1);
  const int64_t stride = int_arg(stride_arg.obj, "stride"), padding = int_arg(padding_arg.obj, "padding");
  const int64_t block = int_arg(block_arg.obj, "block");
  require(conv2d_rejects(kernel_size, stride, padding));
  require(sparse_block_rejects(block));
  if (in_channels > static_cast<size_t>(std::numeric_limits<int32_t>::max()) / kernel_size / kernel_size)
    value_error("in_channels * kernel_size^2 must fit in 32 bits");
  SparseMatrix m = SparseMatrix::from_arrays(out_channels, in_channels * kernel_size * kernel_size, block,
                                             to_vector<float>(values, "values"), to_vector<int32_t>(deltas, "deltas"),
                                             to_vector<uint32_t>(counts, "counts"));
  return std::make_unique<SparseConv2d>(std::move(m), in_channels, Window2d::square(kernel_size, stride, padding),
                                        spmm_ukernel_arg(ukernel));
}

py::tuple to_dense(const SparseConv2d& c) {
  const SparseMatrix& w = c.weights();
  py::array_t<float> weight({static_cast<py::ssize_t>(w.rows()), static_cast<py::ssize_t>(c.in_channels()),
                             static_cast<py::ssize_t>(c.window().kernel_h), static_cast<py::ssize_t>(c.window().kernel_w)});
  py::array_t<float> bias(static_cast<py::ssize_t>(w.rows()));
  w.to_dense(weight.mutable_data(), bias.mutable_data());
  return py::make_tuple(weight, bias);
}

}  // namespace

void register_sparse(py::module_& m, py::module_& testing) {
  const float inf = std::numeric_limits<float>::infinity();
  py::class_<SparseConv2d>(m, "SparseConv2d",
                           "Convolution with sparse weights (zeros dropped, output channels in blocks).")
      .def(py::init(&from_dense), py::arg("weight"), py::arg("bias") = py::none(), py::arg("stride") = 1,
           py::arg("padding") = 0, py::arg("block") = 1, py::arg("ukernel") = py::none())
      .def_static("from_arrays", &from_arrays, py::arg("out_channels"), py::arg("in_channels"),
                  py::arg("kernel_size"), py::arg("stride"), py::arg("padding"), py::arg("block"), py::arg("values"),
                  py::arg("deltas"), py::arg("counts"), py::arg("ukernel") = py::none())
      .def("forward", &forward<SparseConv2d>, py::arg("x"), py::arg("min") = -inf, py::arg("max") = inf,
           py::arg("out") = py::none(), py::arg("kind") = "clamp", py::arg("alpha") = 0.0f,
           py::arg("residual") = py::none())
      .def("to_dense", &to_dense, "The dense (weight, bias) it was built from.")
      .def_property_readonly("values", [](const SparseConv2d& c) { return to_numpy(c.weights().values()); })
      .def_property_readonly("deltas", [](const SparseConv2d& c) { return to_numpy(c.weights().deltas()); })
      .def_property_readonly("counts", [](const SparseConv2d& c) { return to_numpy(c.weights().counts()); })
      .def_property_readonly("block", [](const SparseConv2d& c) { return c.weights().block(); })
      .def_property_readonly("out_channels", [](const SparseConv2d& c) { return c.weights().rows(); })
      .def_property_readonly("in_channels", &SparseConv2d::in_channels)
      .def_property_readonly("kernel_size", [](const SparseConv2d& c) { return c.window().kernel_h; })
      .def_property_readonly("stride", [](const SparseConv2d& c) { return c.window().stride_h; })
      .def_property_readonly("padding", [](const SparseConv2d& c) { return c.window().pad_top; })
      .def_property_readonly("stored_values", [](const SparseConv2d& c) { return c.weights().stored_values(); },
                             "Weights stored, zeros of partly non-zero blocks included (no biases).")
      .def_property_readonly("ukernel", [](const SparseConv2d& c) { return c.ukernel().name; });

  m.def("stored_weights", [](const py::object& weight, const py::object& block) {
    const py::array w = typed_array<float>(weight, "weight", 2, true);
    const size_t b = count_arg(block, "block", 1);
    py::gil_scoped_release release;
    return stored_weights(static_cast<const float*>(w.data()), w.shape(0), w.shape(1), b);
  }, py::arg("weight"), py::arg("block"),
        "Weights the sparse kernels multiply for a (rows, columns) matrix in blocks of `block` rows.");
  m.def("cheapest_block", [](const py::object& weight, const std::vector<std::pair<size_t, double>>& costs) {
    const py::array w = typed_array<float>(weight, "weight", 2, true);
    if (costs.empty()) value_error("costs must name at least one block size");
    for (const auto& [block, cost] : costs) {
      require(sparse_block_rejects(static_cast<int64_t>(block)));
      if (!(cost > 0.0)) value_error("the cost of block " + std::to_string(block) + " must be positive");
    }
    if (w.size() == 0) value_error("weight must not be empty, got shape " + shape_str(w));
    py::gil_scoped_release release;
    return cheapest_block(static_cast<const float*>(w.data()), w.shape(0), w.shape(1), costs);
  }, py::arg("weight"), py::arg("costs"),
        "(block, effective density) of the cheapest of `costs` ((block, cost per stored weight) pairs).");

  testing.def("spmm_ukernels", [] {
    return ukernel_rows(pp_f32_spmm_ukernels(), [](py::dict& row, const auto& k) {
      row["mr"] = k.mr;
      row["nr"] = k.nr;
    });
  });
}

}  // namespace pyprune::bindings
