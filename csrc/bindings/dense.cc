// Dense convolutions: depthwise (one-shot), Conv2d and SeparableConv2d (weights packed once).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <limits>
#include <string>
#include <vector>

#include "arrays.h"
#include "pyprune/dispatch.h"
#include "pyprune/ops.h"
#include "register.h"
#include "ukernel_rows.h"

namespace pyprune::bindings {

namespace {

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

  const py::array bias_array = optional_vector(bias_obj, "bias", c);
  const float* bias = data_or_null(bias_array);

  const pyprune::DepthwiseConv2dShape shape{
      static_cast<size_t>(n), static_cast<size_t>(c), static_cast<size_t>(h),
      static_cast<size_t>(w), static_cast<int>(k), stride, padding};
  const py::ssize_t oh = shape.output_height(), ow = shape.output_width();
  py::array out = output_array(out_obj, {n, c, oh, ow}, {&input, &weight, &bias_array});
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

const pp_f32_gemm_ukernel& gemm_ukernel(const py::object& name) {
  if (name.is_none()) return pp_f32_gemm_config();
  const std::string wanted = py::cast<std::string>(name);
  const auto isas = pp_available_isas();
  for (const auto& k : pp_f32_gemm_ukernels()) {
    if (wanted != k.name) continue;
    if (std::find(isas.begin(), isas.end(), k.isa) == isas.end())
      value_error("ukernel " + wanted + " needs " + pp_isa_name(k.isa) + ", which this CPU lacks");
    return k;
  }
  value_error("unknown ukernel: " + wanted);
}

// A convolution's weights, checked and packed once for the GEMM kernel.
class Conv2d {
 public:
  Conv2d(const py::object& weight_obj, const py::object& bias_obj, py::ssize_t stride,
         py::ssize_t padding, py::ssize_t groups, const py::object& ukernel_name)
      : ukernel_(&gemm_ukernel(ukernel_name)) {
    const py::array weight = float_array(weight_obj, "weight", 4);
    const py::ssize_t cout = weight.shape(0), cin_g = weight.shape(1), k = weight.shape(2);
    if (weight.shape(3) != k)
      value_error("weight must have a square kernel (Cout, Cin / groups, k, k), got " + shape_str(weight));
    if (groups < 1 || cout % groups != 0)
      value_error("groups must be at least 1 and divide the " + std::to_string(cout) +
                  " output channels, got " + std::to_string(groups));
    check_stride_and_padding(k, stride, padding);
    const py::array bias_array = optional_vector(bias_obj, "bias", cout);
    const float* bias = data_or_null(bias_array);
    shape_ = {0, static_cast<size_t>(cin_g * groups), static_cast<size_t>(cout), 0, 0,
              static_cast<size_t>(k), static_cast<size_t>(stride), static_cast<size_t>(padding),
              static_cast<size_t>(groups)};
    packed_.resize(pyprune::conv2d_packed_weights_size(shape_, ukernel_->mr));
    pyprune::pack_conv2d_weights(shape_, ukernel_->mr, static_cast<const float*>(weight.data()),
                                 bias, packed_.data());
  }

  py::array forward(const py::object& x_obj, float min, float max, const py::object& out_obj) const {
    const py::array x = float_array(x_obj, "x", 4);
    if (static_cast<size_t>(x.shape(1)) != shape_.in_channels)
      value_error("x must have " + std::to_string(shape_.in_channels) + " channels, got shape " + shape_str(x));
    pyprune::Conv2dShape s = shape_;
    s.batch = x.shape(0);
    s.input_height = x.shape(2);
    s.input_width = x.shape(3);
    const size_t k = s.kernel_size;
    if (s.input_height + 2 * s.padding < k || s.input_width + 2 * s.padding < k)
      value_error("x of size " + std::to_string(s.input_height) + "x" + std::to_string(s.input_width) +
                  " is smaller than the " + std::to_string(k) + "x" + std::to_string(k) +
                  " kernel even with padding " + std::to_string(s.padding));
    if (min > max) value_error("activation minimum must not exceed its maximum");
    py::array out = output_array(out_obj, {static_cast<py::ssize_t>(s.batch), static_cast<py::ssize_t>(s.out_channels),
                                           static_cast<py::ssize_t>(s.output_height()),
                                           static_cast<py::ssize_t>(s.output_width())}, {&x});
    const pp_f32_minmax_params params{min, max};
    const float* in = static_cast<const float*>(x.data());
    float* o = static_cast<float*>(out.mutable_data());
    {
      py::gil_scoped_release release;
      pyprune::conv2d_nchw(s, in, packed_.data(), o, params, *ukernel_);
    }
    return out;
  }

  size_t in_channels() const { return shape_.in_channels; }
  size_t out_channels() const { return shape_.out_channels; }
  size_t kernel_size() const { return shape_.kernel_size; }
  const char* ukernel() const { return ukernel_->name; }
  const float* packed() const { return packed_.data(); }
  const pp_f32_gemm_ukernel& gemm() const { return *ukernel_; }

 private:
  const pp_f32_gemm_ukernel* ukernel_;
  pyprune::Conv2dShape shape_;
  std::vector<float> packed_;
};

// Depthwise -> clamp -> pointwise -> clamp, fused; weights checked and packed once.
class SeparableConv2d {
 public:
  SeparableConv2d(const py::object& dw_weight_obj, const py::object& dw_bias_obj, int stride,
                  int padding, float dw_min, float dw_max, const py::object& pw_weight_obj,
                  const py::object& pw_bias_obj)
      : pointwise_(pw_weight_obj, pw_bias_obj, 1, 0, 1, py::none()), stride_(stride), padding_(padding),
        dw_params_{dw_min, dw_max} {
    const py::array dw = float_array(dw_weight_obj, "dw_weight", 4);
    channels_ = dw.shape(0);
    kernel_ = static_cast<int>(dw.shape(2));
    if (dw.shape(1) != 1 || dw.shape(3) != kernel_ || (kernel_ != 3 && kernel_ != 5))
      value_error("dw_weight must have shape (C, 1, k, k) with k 3 or 5, got " + shape_str(dw));
    if (stride != 1 && stride != 2) value_error("stride must be 1 or 2, got " + std::to_string(stride));
    if (padding < 0 || padding > kernel_ / 2)
      value_error("padding must be in [0, " + std::to_string(kernel_ / 2) + "], got " + std::to_string(padding));
    if (dw_min > dw_max) value_error("depthwise activation minimum must not exceed its maximum");
    if (pointwise_.in_channels() != channels_ || pointwise_.kernel_size() != 1)
      value_error("pw_weight must have shape (Cout, " + std::to_string(channels_) + ", 1, 1)");
    const float* w = static_cast<const float*>(dw.data());
    dw_weight_.assign(w, w + channels_ * kernel_ * kernel_);
    const py::array dw_bias = optional_vector(dw_bias_obj, "dw_bias", static_cast<py::ssize_t>(channels_));
    const float* bp = data_or_null(dw_bias);
    if (bp != nullptr) dw_bias_.assign(bp, bp + channels_);
    dw_ukernel_ = pp_f32_dwconv2d_chw_config(kernel_, stride);
  }

  py::array forward(const py::object& x_obj, float min, float max, const py::object& out_obj) const {
    const py::array x = float_array(x_obj, "x", 4);
    if (static_cast<size_t>(x.shape(1)) != channels_)
      value_error("x must have " + std::to_string(channels_) + " channels, got shape " + shape_str(x));
    const pyprune::DepthwiseConv2dShape dw{static_cast<size_t>(x.shape(0)), channels_,
                                           static_cast<size_t>(x.shape(2)),
                                           static_cast<size_t>(x.shape(3)), kernel_, stride_, padding_};
    if (dw.input_height + 2 * padding_ < static_cast<size_t>(kernel_) ||
        dw.input_width + 2 * padding_ < static_cast<size_t>(kernel_))
      value_error("x is smaller than the depthwise kernel even with padding");
    if (min > max) value_error("activation minimum must not exceed its maximum");
    py::array out = output_array(out_obj, {x.shape(0), static_cast<py::ssize_t>(pointwise_.out_channels()),
                                           static_cast<py::ssize_t>(dw.output_height()),
                                           static_cast<py::ssize_t>(dw.output_width())}, {&x});
    const pp_f32_minmax_params pw_params{min, max};
    const float* in = static_cast<const float*>(x.data());
    float* o = static_cast<float*>(out.mutable_data());
    {
      py::gil_scoped_release release;
      pyprune::separable_conv2d_nchw(dw, in, dw_weight_.data(), dw_bias_.empty() ? nullptr : dw_bias_.data(),
                                     dw_params_, *dw_ukernel_, pointwise_.out_channels(),
                                     pointwise_.packed(), pw_params, pointwise_.gemm(), o);
    }
    return out;
  }

 private:
  Conv2d pointwise_;
  int stride_, padding_, kernel_ = 3;
  size_t channels_ = 0;
  pp_f32_minmax_params dw_params_;
  std::vector<float> dw_weight_, dw_bias_;
  const pp_f32_dwconv2d_chw_ukernel* dw_ukernel_ = nullptr;
};


}  // namespace

void register_dense(py::module_& m, py::module_& testing) {
  m.def("depthwise_conv2d", &depthwise_conv2d, py::arg("x"), py::arg("weight"),
        py::arg("bias") = py::none(), py::arg("stride") = 1, py::arg("padding") = 0,
        py::arg("min") = -std::numeric_limits<float>::infinity(),
        py::arg("max") = std::numeric_limits<float>::infinity(), py::arg("out") = py::none(),
        py::arg("ukernel") = py::none(),
        "NCHW depthwise conv2d: x (N, C, H, W), weight (C, 1, k, k), k in {3, 5}.");

  py::class_<Conv2d>(m, "Conv2d", "Convolution weights packed once for the GEMM kernels.")
      .def(py::init<const py::object&, const py::object&, py::ssize_t, py::ssize_t, py::ssize_t,
                    const py::object&>(),
           py::arg("weight"), py::arg("bias") = py::none(), py::arg("stride") = 1,
           py::arg("padding") = 0, py::arg("groups") = 1, py::arg("ukernel") = py::none())
      .def("forward", &Conv2d::forward, py::arg("x"),
           py::arg("min") = -std::numeric_limits<float>::infinity(),
           py::arg("max") = std::numeric_limits<float>::infinity(), py::arg("out") = py::none())
      .def_property_readonly("in_channels", &Conv2d::in_channels)
      .def_property_readonly("out_channels", &Conv2d::out_channels)
      .def_property_readonly("ukernel", &Conv2d::ukernel);

  py::class_<SeparableConv2d>(m, "SeparableConv2d",
                              "Fused depthwise -> activation -> pointwise convolution.")
      .def(py::init<const py::object&, const py::object&, int, int, float, float, const py::object&,
                    const py::object&>(),
           py::arg("dw_weight"), py::arg("dw_bias"), py::arg("stride"), py::arg("padding"),
           py::arg("dw_min"), py::arg("dw_max"), py::arg("pw_weight"), py::arg("pw_bias"))
      .def("forward", &SeparableConv2d::forward, py::arg("x"),
           py::arg("min") = -std::numeric_limits<float>::infinity(),
           py::arg("max") = std::numeric_limits<float>::infinity(), py::arg("out") = py::none());

  testing.def("dwconv2d_ukernels", [] {
    return ukernel_rows(pp_f32_dwconv2d_chw_ukernels(), [](py::dict& row, const auto& k) {
      row["kernel_size"] = k.kernel_size;
      row["stride"] = k.stride;
      row["tile_rows"] = k.tile_rows;
      row["tile_cols"] = k.tile_cols;
    });
  });
  testing.def("gemm_ukernels", [] {
    return ukernel_rows(pp_f32_gemm_ukernels(), [](py::dict& row, const auto& k) {
      row["mr"] = k.mr;
      row["nr"] = k.nr;
    });
  });
}

}  // namespace pyprune::bindings
