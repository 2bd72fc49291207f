// Dense convolutions: depthwise (one-shot, or weights prepared once), Conv2d and
// SeparableConv2d (weights packed once). Arguments are converted and checked here; the
// operator classes (pyprune/*.h) check what the kernels take.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <limits>
#include <memory>
#include <optional>
#include <string>

#include "arrays.h"
#include "pyprune/capabilities.h"
#include "pyprune/conv2d.h"
#include "pyprune/depthwise.h"
#include "pyprune/dispatch.h"
#include "pyprune/fully_connected.h"
#include "pyprune/separable.h"
#include "register.h"
#include "ukernel_rows.h"

namespace pyprune::bindings {

namespace {

template <class Ukernel>
const Ukernel* ukernel_arg(const std::vector<Ukernel>& table, const std::optional<std::string>& name) {
  return name ? &pp_find_ukernel(table, *name) : nullptr;
}

// Whether `name` is given and names a row of `table`.
template <class Ukernel>
bool named_in(const std::vector<Ukernel>& table, const std::optional<std::string>& name) {
  return name && std::any_of(table.begin(), table.end(), [&](const Ukernel& u) { return *name == u.name; });
}

// A depthwise weight (C, 1, k, k), its optional bias, stride and padding, checked and laid out.
std::unique_ptr<DepthwiseConv2d> make_depthwise(const py::handle& weight_obj, const OptionalF32Arg& bias_arg,
                                                const IntArg& stride_arg, const IntArg& padding_arg,
                                                const char* weight_name, const char* bias_name,
                                                const std::optional<std::string>& ukernel_name) {
  const py::array weight = float_array(weight_obj, weight_name, 4);
  const int64_t stride = int_arg(stride_arg.obj, "stride"), padding = int_arg(padding_arg.obj, "padding");
  if (weight.shape(1) != 1)
    value_error(std::string(weight_name) + " must have shape (C, 1, k, k) (groups == channels), got " + shape_str(weight));
  require(depthwise_kernel_rejects(weight.shape(2), weight.shape(3)));
  require(depthwise_conv2d_rejects(weight.shape(2), stride, padding));
  const py::array bias = optional_vector(bias_arg.obj, bias_name, weight.shape(0));
  // A named kernel is a strip kernel or a "same"-padding one.
  const auto& same_table = pp_f32_dwconv2d_chw_same_ukernels();
  const bool same = named_in(same_table, ukernel_name);
  return std::make_unique<DepthwiseConv2d>(
      weight.shape(0), Window2d::square(weight.shape(2), stride, padding), static_cast<const float*>(weight.data()),
      data_or_null(bias), same ? nullptr : ukernel_arg(pp_f32_dwconv2d_chw_ukernels(), ukernel_name),
      same ? ukernel_arg(same_table, ukernel_name) : nullptr);
}

// A convolution weight (Cout, Cin / groups, k, k) and its optional bias, checked and packed.
std::unique_ptr<Conv2d> make_conv2d(const py::handle& weight_obj, const OptionalF32Arg& bias_arg, const IntArg& stride_arg,
                                    const IntArg& padding_arg, const IntArg& groups_arg, const char* weight_name,
                                    const char* bias_name, const std::optional<std::string>& ukernel_name) {
  const py::array weight = float_array(weight_obj, weight_name, 4);
  const py::ssize_t cout = weight.shape(0), cin_g = weight.shape(1), k = weight.shape(2);
  if (weight.shape(3) != k)
    value_error(std::string(weight_name) + " must have a square kernel (Cout, Cin / groups, k, k), got " +
                shape_str(weight));
  const int64_t stride = int_arg(stride_arg.obj, "stride"), padding = int_arg(padding_arg.obj, "padding");
  const int64_t groups = int_arg(groups_arg.obj, "groups");
  if (groups < 1 || cout % groups != 0)
    value_error("groups must be at least 1 and divide the " + std::to_string(cout) + " output channels, got " +
                std::to_string(groups));
  require(conv2d_rejects(k, stride, padding));
  const py::array bias = optional_vector(bias_arg.obj, bias_name, cout);
  // A named kernel is a GEMM, a direct 3x3 stride-2 one or an outvec one.
  const auto& direct_table = pp_f32_conv2d_3x3s2p1_ukernels();
  const auto& outvec_table = pp_f32_conv2d_outvec_ukernels();
  const bool direct = named_in(direct_table, ukernel_name), outvec = named_in(outvec_table, ukernel_name);
  return std::make_unique<Conv2d>(cout, cin_g * groups, Window2d::square(k, stride, padding), groups,
                                  static_cast<const float*>(weight.data()), data_or_null(bias),
                                  direct || outvec ? nullptr : ukernel_arg(pp_f32_gemm_ukernels(), ukernel_name),
                                  direct ? ukernel_arg(direct_table, ukernel_name) : nullptr,
                                  outvec ? ukernel_arg(outvec_table, ukernel_name) : nullptr);
}

py::array depthwise_conv2d(const F32Arg& x_arg, const F32Arg& weight_arg, const OptionalF32Arg& bias,
                           const IntArg& stride, const IntArg& padding, float min, float max,
                           const OptionalF32Arg& out, const std::optional<std::string>& ukernel,
                           const std::string& kind, float alpha, const OptionalF32Arg& residual) {
  const py::array x = float_array(x_arg.obj, "x", 4), weight = float_array(weight_arg.obj, "weight", 4);
  if (weight.shape(0) != x.shape(1))
    value_error("weight must have shape (C, 1, k, k) with C = " + std::to_string(x.shape(1)) +
                " channels of x (groups == channels), got " + shape_str(weight));
  const auto op = make_depthwise(weight, bias, stride, padding, "weight", "bias", ukernel);
  return forward(*op, x_arg, min, max, out, kind, alpha, residual);
}

std::unique_ptr<SeparableConv2d> make_separable(const F32Arg& dw_weight, const OptionalF32Arg& dw_bias,
                                                const IntArg& stride, const IntArg& padding, float dw_min,
                                                float dw_max, const F32Arg& pw_weight_arg,
                                                const OptionalF32Arg& pw_bias, const std::string& dw_kind,
                                                float dw_alpha) {
  const Activation dw_activation = activation_arg(dw_kind, dw_min, dw_max, dw_alpha);
  auto depthwise = make_depthwise(dw_weight.obj, dw_bias, stride, padding, "dw_weight", "dw_bias", std::nullopt);
  const py::array pw_weight = float_array(pw_weight_arg.obj, "pw_weight", 4);
  if (pw_weight.shape(1) != static_cast<py::ssize_t>(depthwise->channels()) || pw_weight.shape(2) != 1 ||
      pw_weight.shape(3) != 1)
    value_error("pw_weight must have shape (Cout, " + std::to_string(depthwise->channels()) + ", 1, 1), got " +
                shape_str(pw_weight));
  const IntArg one{py::int_(1)}, zero{py::int_(0)};
  auto pointwise = make_conv2d(pw_weight, pw_bias, one, zero, one, "pw_weight", "pw_bias", std::nullopt);
  return std::make_unique<SeparableConv2d>(std::move(*depthwise), dw_activation, std::move(*pointwise));
}

// One call of GEMV kernel `name` over weight (n, kc) packed for it: out[:n] = clamp(weight @ x +
// bias); nothing else of `out` (which may be longer, to guard what follows) is written.
py::array gemv(const std::string& name, const F32Arg& x_arg, const F32Arg& weight_arg, const OptionalF32Arg& bias_arg,
               const F32Arg& out_arg, float min, float max) {
  const pp_f32_gemv_ukernel& k = pp_find_ukernel(pp_f32_gemv_ukernels(), name);
  const py::array weight = float_array(weight_arg.obj, "weight", 2);
  const py::ssize_t n = weight.shape(0), kc = weight.shape(1);
  const py::array x = float_array(x_arg.obj, "x", 1);
  py::array out = float_array(out_arg.obj, "out", 1);
  if (x.shape(0) != kc) value_error("x must have " + std::to_string(kc) + " elements, got " + shape_str(x));
  if (out.shape(0) < n) value_error("out must have at least " + std::to_string(n) + " elements, got " + shape_str(out));
  if (!out.writeable()) value_error("out must be writeable");
  if (overlap(out, x) || overlap(out, weight)) value_error("out must not share memory with the inputs");
  const py::array bias = optional_vector(bias_arg.obj, "bias", n);
  const FullyConnected packed(n, kc, static_cast<const float*>(weight.data()), data_or_null(bias), &k);
  const pp_f32_minmax_params params{min, max};
  k.fn(n, kc, static_cast<const float*>(x.data()), packed.panels(), static_cast<float*>(out.mutable_data()), &params);
  return out;
}

// One call of depthwise taps kernel `name` over the flat buffer x: tap t of output row r at
// x[offsets[t] + r * row_step], out[r][:n] = clamp(weights[0] + sum_t weights[1 + t] * tap) for the
// rows of out (rows, >= n); nothing else of out is written. Every read, overread included, must
// fall inside x.
py::array dwconv2d_taps(const std::string& name, const F32Arg& x_arg, const std::vector<int64_t>& offsets,
                        const IntArg& row_step_arg, const F32Arg& weights_arg, const IntArg& n_arg, const F32Arg& out_arg,
                        float min, float max) {
  const pp_f32_dwconv2d_taps_ukernel& k = pp_find_ukernel(pp_f32_dwconv2d_taps_ukernels(), name);
  const py::array x = float_array(x_arg.obj, "x", 1), weights = float_array(weights_arg.obj, "weights", 1);
  py::array out = float_array(out_arg.obj, "out", 2);
  const size_t n = count_arg(n_arg.obj, "n", 1), row_step = count_arg(row_step_arg.obj, "row_step", 0);
  const size_t rows = static_cast<size_t>(out.shape(0));
  if (offsets.empty()) value_error("offsets must name at least one tap");
  if (rows > 1 && row_step > static_cast<size_t>(x.shape(0)))
    value_error("row_step must be at most the size of x when out has several rows");
  if (static_cast<size_t>(weights.shape(0)) != 1 + offsets.size())
    value_error("weights must have " + std::to_string(1 + offsets.size()) + " elements, got " + shape_str(weights));
  if (rows < 1 || static_cast<size_t>(out.shape(1)) < n || out.strides(1) != sizeof(float) || !out.writeable())
    value_error("out must be writeable, with at least one row of at least n contiguous elements, got " + shape_str(out));
  if (overlap(out, x) || overlap(out, weights)) value_error("out must not share memory with the inputs");
  std::vector<const float*> tap_rows;
  for (int64_t offset : offsets) {
    if (offset < 0 || static_cast<size_t>(offset) + (rows - 1) * row_step + n + PP_DWCONV2D_TAPS_OVERREAD >
                          static_cast<size_t>(x.shape(0)))
      value_error("tap offset " + std::to_string(offset) + " reads past x (" + shape_str(x) + ")");
    tap_rows.push_back(static_cast<const float*>(x.data()) + offset);
  }
  const pp_f32_minmax_params params{min, max};
  k.fn(rows, n, tap_rows.size(), tap_rows.data(), row_step * sizeof(float), static_cast<const float*>(weights.data()),
       static_cast<float*>(out.mutable_data()), static_cast<size_t>(out.strides(0)), &params);
  return out;
}

}  // namespace

void register_dense(py::module_& m, py::module_& testing) {
  const float inf = std::numeric_limits<float>::infinity();
  m.def("depthwise_conv2d", &depthwise_conv2d, py::arg("x"), py::arg("weight"), py::arg("bias") = py::none(),
        py::arg("stride") = 1, py::arg("padding") = 0, py::arg("min") = -inf, py::arg("max") = inf,
        py::arg("out") = py::none(), py::arg("ukernel") = py::none(), py::arg("kind") = "clamp",
        py::arg("alpha") = 0.0f, py::arg("residual") = py::none(),
        "NCHW depthwise conv2d: x (N, C, H, W), weight (C, 1, k, k) (kernel sizes: capabilities()), then "
        "+ residual and the activation `kind` (min/max: a clamp's bounds, alpha: leaky_relu's slope or elu's alpha).");

  py::class_<DepthwiseConv2d>(m, "DepthwiseConv2d", "Depthwise convolution weights laid out once for the kernels.")
      .def(py::init([](const F32Arg& weight, const OptionalF32Arg& bias, const IntArg& stride, const IntArg& padding,
                       const std::optional<std::string>& ukernel) {
             return make_depthwise(weight.obj, bias, stride, padding, "weight", "bias", ukernel);
           }),
           py::arg("weight"), py::arg("bias") = py::none(), py::arg("stride") = 1, py::arg("padding") = 0,
           py::arg("ukernel") = py::none())
      .def("forward", &forward<DepthwiseConv2d>, py::arg("x"), py::arg("min") = -inf, py::arg("max") = inf,
           py::arg("out") = py::none(), py::arg("kind") = "clamp", py::arg("alpha") = 0.0f,
           py::arg("residual") = py::none())
      .def_property_readonly("ukernel", [](const DepthwiseConv2d& c) { return c.ukernel_name(); });

  py::class_<Conv2d>(m, "Conv2d", "Convolution weights packed once for the GEMM kernels.")
      .def(py::init([](const F32Arg& weight, const OptionalF32Arg& bias, const IntArg& stride, const IntArg& padding,
                       const IntArg& groups, const std::optional<std::string>& ukernel) {
             return make_conv2d(weight.obj, bias, stride, padding, groups, "weight", "bias", ukernel);
           }),
           py::arg("weight"), py::arg("bias") = py::none(), py::arg("stride") = 1, py::arg("padding") = 0,
           py::arg("groups") = 1, py::arg("ukernel") = py::none())
      .def("forward", &forward<Conv2d>, py::arg("x"), py::arg("min") = -inf, py::arg("max") = inf,
           py::arg("out") = py::none(), py::arg("kind") = "clamp", py::arg("alpha") = 0.0f,
           py::arg("residual") = py::none())
      .def_property_readonly("in_channels", &Conv2d::in_channels)
      .def_property_readonly("out_channels", &Conv2d::out_channels)
      .def_property_readonly("ukernel", [](const Conv2d& c) { return c.ukernel_name(); });

  py::class_<SeparableConv2d>(m, "SeparableConv2d", "Fused depthwise -> activation -> pointwise convolution.")
      .def(py::init(&make_separable), py::arg("dw_weight"), py::arg("dw_bias"), py::arg("stride"),
           py::arg("padding"), py::arg("dw_min"), py::arg("dw_max"), py::arg("pw_weight"), py::arg("pw_bias"),
           py::arg("dw_kind") = "clamp", py::arg("dw_alpha") = 0.0f)
      .def("forward", &forward<SeparableConv2d>, py::arg("x"), py::arg("min") = -inf, py::arg("max") = inf,
           py::arg("out") = py::none(), py::arg("kind") = "clamp", py::arg("alpha") = 0.0f,
           py::arg("residual") = py::none())
      .def_property_readonly("ukernel", &SeparableConv2d::ukernel_name);

  testing.def("dwconv2d_ukernels", [] {
    return ukernel_rows(pp_f32_dwconv2d_chw_ukernels(), [](py::dict& row, const auto& k) {
      row["kernel_size"] = k.kernel_size;
      row["stride"] = k.stride;
      row["tile_rows"] = k.tile_rows;
      row["tile_cols"] = k.tile_cols;
    });
  });
  testing.def("dwconv2d_same_ukernels", [] {
    return ukernel_rows(pp_f32_dwconv2d_chw_same_ukernels(), [](py::dict& row, const auto& k) {
      row["kernel_size"] = k.kernel_size;
      row["stride"] = k.stride;
      row["tile_rows"] = k.tile_rows;
      row["tile_cols"] = k.tile_cols;
      row["max_width"] = k.max_width;
    });
  });
  testing.def("dwconv2d_taps_ukernels", [] {
    return ukernel_rows(pp_f32_dwconv2d_taps_ukernels(), [](py::dict& row, const auto& k) {
      row["tile_rows"] = k.tile_rows;
      row["tile_cols"] = k.tile_cols;
    });
  });
  testing.def("dwconv2d_taps", &dwconv2d_taps, py::arg("ukernel"), py::arg("x"), py::arg("offsets"),
              py::arg("row_step"), py::arg("weights"), py::arg("n"), py::arg("out"), py::arg("min"), py::arg("max"),
              "out[r][:n] = clamp(weights[0] + sum_t weights[1 + t] * x[offsets[t] + r * row_step:][:n]) for the "
              "rows of out: one call of a depthwise taps microkernel (its overread must stay inside x).");
  testing.attr("DWCONV2D_TAPS_OVERREAD") = PP_DWCONV2D_TAPS_OVERREAD;
  testing.def("conv2d_outvec_ukernels", [] {
    return ukernel_rows(pp_f32_conv2d_outvec_ukernels(), [](py::dict& row, const auto& k) {
      row["mr"] = k.mr;
      row["nc"] = k.nc;
      row["speed"] = k.speed;
    });
  });
  testing.def("conv2d_3x3s2p1_ukernels", [] {
    return ukernel_rows(pp_f32_conv2d_3x3s2p1_ukernels(), [](py::dict& row, const auto& k) {
      row["mr"] = k.mr;
      row["nr"] = k.nr;
      row["dense"] = k.dense;      // input channels, at most
      row["grouped"] = k.grouped;  // channels per group, at most
    });
  });
  testing.def("gemm_ukernels", [] {
    return ukernel_rows(pp_f32_gemm_ukernels(), [](py::dict& row, const auto& k) {
      row["mr"] = k.mr;
      row["nr"] = k.nr;
      row["in_order"] = k.in_order;
      row["deep"] = k.deep;
    });
  });
  testing.def("in_order_midr", [](uint64_t midr) { return pp_in_order_midr(midr); }, py::arg("midr"),
              "Whether a MIDR_EL1 value names an in-order Cortex-A53-class core (A53, A35, A55).");
  testing.def("gemv_ukernels", [] {
    return ukernel_rows(pp_f32_gemv_ukernels(), [](py::dict& row, const auto& k) { row["nr"] = k.nr; });
  });
  testing.def("gemv", &gemv, py::arg("ukernel"), py::arg("x"), py::arg("weight"), py::arg("bias"), py::arg("out"),
              py::arg("min"), py::arg("max"),
              "out[:n] = clamp(weight @ x + bias, min, max) for weight (n, kc): one call of a GEMV microkernel on "
              "the weight packed for it; nothing past out[n - 1] is written.");
}

}  // namespace pyprune::bindings
