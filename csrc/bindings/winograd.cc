// Winograd convolution: WinogradConv2d (weights transformed and packed once), its capability,
// and each transform kernel alone on numpy arrays (_core.testing) for the tests. Arguments are
// converted and checked here; the operator class (pyprune/winograd_conv2d.h) checks what the
// kernels take.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <limits>
#include <memory>
#include <optional>
#include <string>

#include "arrays.h"
#include "pyprune/capabilities.h"
#include "pyprune/dispatch.h"
#include "pyprune/winograd.h"
#include "pyprune/winograd_conv2d.h"
#include "register.h"
#include "ukernel_rows.h"

namespace pyprune::bindings {

namespace {

using Padding = std::array<int64_t, 4>;

// The items of a list or tuple argument; TypeError naming it for anything else.
py::sequence items_arg(const py::handle& obj, const std::string& what) {
  if (!PyList_Check(obj.ptr()) && !PyTuple_Check(obj.ptr()))
    type_error(what + ", got " + std::string(py::str(py::type::of(obj).attr("__name__"))));
  return py::reinterpret_borrow<py::sequence>(obj);
}

bool is_int(const py::handle& obj) { return PyLong_Check(obj.ptr()) && !PyBool_Check(obj.ptr()); }

// An int (both dimensions) or a (height, width) pair.
std::array<int64_t, 2> pair_arg(const py::handle& obj, const char* name) {
  if (is_int(obj)) {
    const int64_t v = int_arg(obj, name);
    return {v, v};
  }
  const py::sequence items = items_arg(obj, std::string(name) + " must be an int or a (height, width) pair");
  if (items.size() != 2)
    value_error(std::string(name) + " must be an int or a (height, width) pair, got " + std::to_string(items.size()) +
                " entries");
  return {int_arg(items[0], name), int_arg(items[1], name)};
}

// An int (every side), a pair (height, width) or four ints (top, left, bottom, right).
Padding padding_arg(const py::handle& obj) {
  if (is_int(obj)) {
    const int64_t p = int_arg(obj, "padding");
    return {p, p, p, p};
  }
  const py::sequence items =
      items_arg(obj, "padding must be an int, a (height, width) pair or (top, left, bottom, right)");
  if (items.size() == 2) {
    const int64_t h = int_arg(items[0], "padding"), w = int_arg(items[1], "padding");
    return {h, w, h, w};
  }
  if (items.size() == 4)
    return {int_arg(items[0], "padding"), int_arg(items[1], "padding"), int_arg(items[2], "padding"),
            int_arg(items[3], "padding")};
  value_error("padding must have 2 (height, width) or 4 (top, left, bottom, right) entries, got " +
              std::to_string(items.size()));
}

std::string rejects(const py::object& kernel, const py::object& stride, const py::object& dilation,
                    const py::object& groups, const py::object& padding) {
  return winograd_conv2d_rejects(pair_arg(kernel, "kernel_size"), pair_arg(stride, "stride"),
                                 pair_arg(dilation, "dilation"), int_arg(groups, "groups"), padding_arg(padding));
}

std::unique_ptr<WinogradConv2d> make_winograd(const F32Arg& weight_arg, const OptionalF32Arg& bias_arg,
                                              const py::object& padding_obj, const py::object& tile_obj) {
  const py::array weight = float_array(weight_arg.obj, "weight", 4);
  if (weight.shape(2) != 3 || weight.shape(3) != 3)
    value_error("weight must have shape (Cout, Cin, 3, 3) for Winograd, got " + shape_str(weight));
  const Padding padding = padding_arg(padding_obj);
  require(winograd_conv2d_rejects({3, 3}, {1, 1}, {1, 1}, 1, padding));
  size_t tile = 0;
  if (!tile_obj.is_none()) {
    const int64_t t = int_arg(tile_obj, "tile");
    require(winograd_tile_rejects(t));
    tile = static_cast<size_t>(t);
  }
  const py::array bias = optional_vector(bias_arg.obj, "bias", weight.shape(0));
  return std::make_unique<WinogradConv2d>(
      weight.shape(0), weight.shape(1),
      std::array<size_t, 4>{static_cast<size_t>(padding[0]), static_cast<size_t>(padding[1]),
                            static_cast<size_t>(padding[2]), static_cast<size_t>(padding[3])},
      static_cast<const float*>(weight.data()), data_or_null(bias), tile);
}

// The alpha x alpha tables of F(m x m, 3 x 3) as float64 arrays.
template <size_t M>
py::dict matrices() {
  using W = winograd::Matrices<M>;
  constexpr size_t A = W::kAlpha;
  py::array_t<double> bt({A, A}), g({A, size_t{3}}), at({M, A});
  std::copy(&W::BT[0][0], &W::BT[0][0] + A * A, bt.mutable_data());
  std::copy(&W::G[0][0], &W::G[0][0] + A * 3, g.mutable_data());
  std::copy(&W::AT[0][0], &W::AT[0][0] + M * A, at.mutable_data());
  py::dict d;
  d["BT"] = bt;
  d["G"] = g;
  d["AT"] = at;
  return d;
}

// One input transform kernel on an (alpha, width) strip: (alpha^2, tiles rounded up to the tile
// group) transformed tiles, the lanes past `tiles` as the kernel left them.
py::array input_transform(const std::string& name, const IntArg& tiles_arg, const F32Arg& strip_arg) {
  const auto& k = pp_find_ukernel(pp_f32_winograd_input_ukernels(), name);
  const size_t tiles = count_arg(tiles_arg.obj, "tiles", 1), alpha = k.tile + 2;
  const py::array strip = float_array(strip_arg.obj, "strip", 2);
  const size_t width = pp_round_up(tiles, PP_WINOGRAD_TILE_GROUP) * k.tile + alpha;
  if (static_cast<size_t>(strip.shape(0)) != alpha || static_cast<size_t>(strip.shape(1)) < width)
    value_error("strip must have " + std::to_string(alpha) + " rows of at least " + std::to_string(width) +
                " floats, got " + shape_str(strip));
  const size_t lanes = pp_round_up(tiles, PP_WINOGRAD_TILE_GROUP);
  py::array_t<float> out({alpha * alpha, lanes});
  const float* in = static_cast<const float*>(strip.data());
  float* o = out.mutable_data();
  const size_t stride = static_cast<size_t>(strip.shape(1)) * sizeof(float);
  {
    py::gil_scoped_release release;
    k.fn(tiles, in, stride, o, lanes * sizeof(float));
  }
  return out;  // with the GIL: returning copies a handle
}

// One output transform kernel on (alpha^2, width) transformed tiles: a (rows, columns) output.
py::array output_transform(const std::string& name, const IntArg& tiles_arg, const IntArg& rows_arg,
                           const IntArg& columns_arg, const F32Arg& input_arg, float bias,
                           const OptionalF32Arg& residual_arg, float min, float max) {
  const auto& k = pp_find_ukernel(pp_f32_winograd_output_ukernels(), name);
  const size_t tiles = count_arg(tiles_arg.obj, "tiles", 1), m = k.tile, alpha = m + 2;
  const size_t rows = count_arg(rows_arg.obj, "rows", 1), columns = count_arg(columns_arg.obj, "columns", 1);
  if (rows > m) value_error("rows must be at most " + std::to_string(m) + ", got " + std::to_string(rows));
  if (columns <= (tiles - 1) * m || columns > tiles * m)
    value_error("columns must be in [" + std::to_string((tiles - 1) * m + 1) + ", " + std::to_string(tiles * m) +
                "] for " + std::to_string(tiles) + " tiles, got " + std::to_string(columns));
  const py::array input = float_array(input_arg.obj, "input", 2);
  const size_t width = pp_round_up(tiles, PP_WINOGRAD_TILE_GROUP);
  if (static_cast<size_t>(input.shape(0)) != alpha * alpha || static_cast<size_t>(input.shape(1)) < width)
    value_error("input must have " + std::to_string(alpha * alpha) + " rows of at least " + std::to_string(width) +
                " floats, got " + shape_str(input));
  const py::array residual = residual_arg.obj.is_none() ? py::array_t<float>(0)
                                                        : float_array(residual_arg.obj, "residual", 2);
  if (residual.size() != 0 &&
      (static_cast<size_t>(residual.shape(0)) != rows || static_cast<size_t>(residual.shape(1)) != columns))
    value_error("residual must have shape (" + std::to_string(rows) + ", " + std::to_string(columns) + "), got " +
                shape_str(residual));
  py::array_t<float> out({rows, columns});
  const float* in = static_cast<const float*>(input.data());
  const float* res = data_or_null(residual);
  float* o = out.mutable_data();
  const size_t stride = static_cast<size_t>(input.shape(1)) * sizeof(float);
  const pp_f32_minmax_params params{min, max};
  {
    py::gil_scoped_release release;
    k.fn(tiles, rows, columns, in, stride, bias, res, o, columns * sizeof(float), &params);
  }
  return out;  // with the GIL: returning copies a handle
}

}  // namespace

void register_winograd(py::module_& m, py::module_& testing) {
  const float inf = std::numeric_limits<float>::infinity();
  py::class_<WinogradConv2d>(m, "WinogradConv2d",
                             "Dense 3x3 stride-1 convolution by Winograd's F(m x m, 3 x 3), weights transformed once.")
      .def(py::init(&make_winograd), py::arg("weight"), py::arg("bias") = py::none(), py::arg("padding") = 0,
           py::arg("tile") = py::none())
      .def("forward", &forward<WinogradConv2d>, py::arg("x"), py::arg("min") = -inf, py::arg("max") = inf,
           py::arg("out") = py::none(), py::arg("kind") = "clamp", py::arg("alpha") = 0.0f,
           py::arg("residual") = py::none())
      .def_property_readonly("in_channels", &WinogradConv2d::in_channels)
      .def_property_readonly("out_channels", &WinogradConv2d::out_channels)
      .def_property_readonly("tile", &WinogradConv2d::tile)
      .def_property_readonly("padding", &WinogradConv2d::padding)
      .def_property_readonly("ukernels", [](const WinogradConv2d& c) {
        return std::array<std::string, 3>{c.input_ukernel().name, c.gemm_ukernel().name, c.output_ukernel().name};
      });

  m.def("winograd_conv2d_rejects", &rejects, py::arg("kernel_size"), py::arg("stride") = 1,
        py::arg("dilation") = 1, py::arg("groups") = 1, py::arg("padding") = 0,
        "Why Winograd does not take this convolution (kernel_size, stride, dilation: an int or (height, width); "
        "padding: an int, (height, width) or (top, left, bottom, right)), or '' when it does.");

  testing.def("winograd_input_ukernels", [] {
    return ukernel_rows(pp_f32_winograd_input_ukernels(), [](py::dict& row, const auto& k) { row["tile"] = k.tile; });
  });
  testing.def("winograd_output_ukernels", [] {
    return ukernel_rows(pp_f32_winograd_output_ukernels(), [](py::dict& row, const auto& k) { row["tile"] = k.tile; });
  });
  testing.def("winograd_matrices", [](const IntArg& tile_arg) {
    const int64_t tile = int_arg(tile_arg.obj, "tile");
    require(winograd_tile_rejects(tile));
    if (tile == 4) return matrices<4>();
    if (tile == 6) return matrices<6>();
    value_error("no matrices for tile " + std::to_string(tile));
  }, py::arg("tile"), "B^T, G and A^T of F(tile x tile, 3 x 3) (pyprune/winograd.h).");
  testing.def("winograd_input_transform", &input_transform, py::arg("ukernel"), py::arg("tiles"), py::arg("strip"),
              "One input transform kernel: strip (alpha, width) -> (alpha^2, tiles rounded up to 8).");
  testing.def("winograd_output_transform", &output_transform, py::arg("ukernel"), py::arg("tiles"), py::arg("rows"),
              py::arg("columns"), py::arg("input"), py::arg("bias") = 0.0f, py::arg("residual") = py::none(),
              py::arg("min") = -inf, py::arg("max") = inf,
              "One output transform kernel: input (alpha^2, width) -> (rows, columns).");
}

}  // namespace pyprune::bindings
