// Sparse convolution: SparseConv2d holds the checked SparseMatrix and, per input size, the
// input offsets of its stored columns.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "arrays.h"
#include "pyprune/dispatch.h"
#include "pyprune/sparse.h"
#include "register.h"
#include "ukernel_rows.h"

namespace pyprune::bindings {

namespace {

const pp_f32_spmm_ukernel& spmm_ukernel(const py::object& name, size_t block) {
  if (name.is_none()) {
    const auto* k = pp_f32_spmm_config(block);
    if (k == nullptr) value_error("block must be 1, 2, 4 or 8, got " + std::to_string(block));
    return *k;
  }
  const std::string wanted = py::cast<std::string>(name);
  const auto isas = pp_available_isas();
  for (const auto& k : pp_f32_spmm_ukernels()) {
    if (wanted != k.name) continue;
    if (k.nr != block)
      value_error("ukernel " + wanted + " is for blocks of " + std::to_string(k.nr) +
                  " output channels, not " + std::to_string(block));
    if (std::find(isas.begin(), isas.end(), k.isa) == isas.end())
      value_error("ukernel " + wanted + " needs " + pp_isa_name(k.isa) + ", which this CPU lacks");
    return k;
  }
  value_error("unknown ukernel: " + wanted);
}

template <typename T>
std::vector<T> to_vector(const py::object& obj, const char* name) {
  const py::array a = typed_array<T>(obj, name, 1, /*allow_empty=*/true);
  const T* p = static_cast<const T*>(a.data());
  return std::vector<T>(p, p + a.shape(0));
}

template <typename T>
py::array to_numpy(const std::vector<T>& v) {
  return py::array_t<T>(static_cast<py::ssize_t>(v.size()), v.data());
}

class SparseConv2d {
 public:
  SparseConv2d(SparseMatrix weights, size_t in_channels, size_t kernel_size, size_t stride,
               size_t padding, const py::object& ukernel_name)
      : weights_(std::move(weights)), in_channels_(in_channels), kernel_(kernel_size),
        stride_(stride), padding_(padding), ukernel_(&spmm_ukernel(ukernel_name, weights_.block())) {}

  static SparseConv2d from_dense(const py::object& weight_obj, const py::object& bias_obj,
                                 py::ssize_t stride, py::ssize_t padding, py::ssize_t block,
                                 const py::object& ukernel_name) {
    const py::array weight = float_array(weight_obj, "weight", 4);
    const py::ssize_t cout = weight.shape(0), cin = weight.shape(1), k = weight.shape(2);
    if (weight.shape(3) != k)
      value_error("weight must have a square kernel (Cout, Cin, k, k), got " + shape_str(weight));
    check_stride_and_padding(k, stride, padding);
    const py::array bias_array = optional_vector(bias_obj, "bias", cout);
    if (block < 1) value_error("block must be 1, 2, 4 or 8, got " + std::to_string(block));
    SparseMatrix m = SparseMatrix::from_dense(cout, cin * k * k, block,
                                              static_cast<const float*>(weight.data()),
                                              data_or_null(bias_array));
    return SparseConv2d(std::move(m), cin, k, stride, padding, ukernel_name);
  }

  static SparseConv2d from_arrays(py::ssize_t out_channels, py::ssize_t in_channels,
                                  py::ssize_t kernel_size, py::ssize_t stride, py::ssize_t padding,
                                  py::ssize_t block, const py::object& values,
                                  const py::object& deltas, const py::object& counts,
                                  const py::object& ukernel_name) {
    if (out_channels < 1 || in_channels < 1)
      value_error("out_channels and in_channels must be at least 1");
    if (kernel_size < 1) value_error("kernel_size must be at least 1, got " + std::to_string(kernel_size));
    check_stride_and_padding(kernel_size, stride, padding);
    if (block < 1) value_error("block must be 1, 2, 4 or 8, got " + std::to_string(block));
    if (in_channels > std::numeric_limits<int32_t>::max() / kernel_size / kernel_size)
      value_error("in_channels * kernel_size^2 must fit in 32 bits");
    SparseMatrix m = SparseMatrix::from_arrays(
        out_channels, in_channels * kernel_size * kernel_size, block, to_vector<float>(values, "values"),
        to_vector<int32_t>(deltas, "deltas"), to_vector<uint32_t>(counts, "counts"));
    return SparseConv2d(std::move(m), in_channels, kernel_size, stride, padding, ukernel_name);
  }

  py::array forward(const py::object& x_obj, float min, float max, const py::object& out_obj) {
    const py::array x = float_array(x_obj, "x", 4);
    if (static_cast<size_t>(x.shape(1)) != in_channels_)
      value_error("x must have " + std::to_string(in_channels_) + " channels, got shape " + shape_str(x));
    const SparseConv2dShape s{static_cast<size_t>(x.shape(0)), in_channels_, weights_.rows(),
                              static_cast<size_t>(x.shape(2)), static_cast<size_t>(x.shape(3)),
                              kernel_, stride_, padding_};
    if (s.input_height + 2 * padding_ < kernel_ || s.input_width + 2 * padding_ < kernel_)
      value_error("x of size " + std::to_string(s.input_height) + "x" + std::to_string(s.input_width) +
                  " is smaller than the " + std::to_string(kernel_) + "x" + std::to_string(kernel_) +
                  " kernel even with padding " + std::to_string(padding_));
    if (min > max) value_error("activation minimum must not exceed its maximum");
    py::array out = output_array(out_obj, {x.shape(0), static_cast<py::ssize_t>(s.out_channels),
                                           static_cast<py::ssize_t>(s.output_height()),
                                           static_cast<py::ssize_t>(s.output_width())}, {&x});
    // Offsets depend on the input size: computed once per size, under the GIL.
    if (!offsets_ || offsets_height_ != s.input_height || offsets_width_ != s.input_width) {
      offsets_ = std::make_shared<const std::vector<int32_t>>(sparse_conv2d_offsets(s, weights_));
      offsets_height_ = s.input_height;
      offsets_width_ = s.input_width;
    }
    const std::shared_ptr<const std::vector<int32_t>> offsets = offsets_;
    const pp_f32_minmax_params params{min, max};
    const float* in = static_cast<const float*>(x.data());
    float* o = static_cast<float*>(out.mutable_data());
    {
      py::gil_scoped_release release;
      sparse_conv2d_nchw(s, weights_, offsets->data(), in, o, params, *ukernel_);
    }
    return out;
  }

  py::tuple to_dense() const {
    py::array_t<float> weight({static_cast<py::ssize_t>(weights_.rows()),
                               static_cast<py::ssize_t>(in_channels_), static_cast<py::ssize_t>(kernel_),
                               static_cast<py::ssize_t>(kernel_)});
    py::array_t<float> bias(static_cast<py::ssize_t>(weights_.rows()));
    weights_.to_dense(weight.mutable_data(), bias.mutable_data());
    return py::make_tuple(weight, bias);
  }

  const SparseMatrix& weights() const { return weights_; }
  size_t in_channels() const { return in_channels_; }
  size_t kernel_size() const { return kernel_; }
  size_t stride() const { return stride_; }
  size_t padding() const { return padding_; }
  const char* ukernel() const { return ukernel_->name; }

 private:
  SparseMatrix weights_;
  size_t in_channels_, kernel_, stride_, padding_;
  const pp_f32_spmm_ukernel* ukernel_;
  std::shared_ptr<const std::vector<int32_t>> offsets_;
  size_t offsets_height_ = 0, offsets_width_ = 0;
};

}  // namespace

void register_sparse(py::module_& m, py::module_& testing) {
  const float inf = std::numeric_limits<float>::infinity();
  py::class_<SparseConv2d>(m, "SparseConv2d",
                           "Convolution with sparse weights (zeros dropped, output channels in blocks).")
      .def(py::init(&SparseConv2d::from_dense), py::arg("weight"), py::arg("bias") = py::none(),
           py::arg("stride") = 1, py::arg("padding") = 0, py::arg("block") = 1,
           py::arg("ukernel") = py::none())
      .def_static("from_arrays", &SparseConv2d::from_arrays, py::arg("out_channels"),
                  py::arg("in_channels"), py::arg("kernel_size"), py::arg("stride"),
                  py::arg("padding"), py::arg("block"), py::arg("values"), py::arg("deltas"),
                  py::arg("counts"), py::arg("ukernel") = py::none())
      .def("forward", &SparseConv2d::forward, py::arg("x"), py::arg("min") = -inf,
           py::arg("max") = inf, py::arg("out") = py::none())
      .def("to_dense", &SparseConv2d::to_dense, "The dense (weight, bias) it was built from.")
      .def_property_readonly("values", [](const SparseConv2d& c) { return to_numpy(c.weights().values()); })
      .def_property_readonly("deltas", [](const SparseConv2d& c) { return to_numpy(c.weights().deltas()); })
      .def_property_readonly("counts", [](const SparseConv2d& c) { return to_numpy(c.weights().counts()); })
      .def_property_readonly("block", [](const SparseConv2d& c) { return c.weights().block(); })
      .def_property_readonly("out_channels", [](const SparseConv2d& c) { return c.weights().rows(); })
      .def_property_readonly("in_channels", &SparseConv2d::in_channels)
      .def_property_readonly("kernel_size", &SparseConv2d::kernel_size)
      .def_property_readonly("stride", &SparseConv2d::stride)
      .def_property_readonly("padding", &SparseConv2d::padding)
      .def_property_readonly("stored_values", [](const SparseConv2d& c) { return c.weights().stored_values(); },
                             "Weights stored, zeros of partly non-zero blocks included (no biases).")
      .def_property_readonly("ukernel", &SparseConv2d::ukernel);

  testing.def("spmm_ukernels", [] {
    return ukernel_rows(pp_f32_spmm_ukernels(), [](py::dict& row, const auto& k) {
      row["mr"] = k.mr;
      row["nr"] = k.nr;
    });
  });
}

}  // namespace pyprune::bindings
