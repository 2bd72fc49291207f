// Argument checking shared by the binding files: every message names the bad argument.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "pyprune/activation.h"
#include "pyprune/params.h"
#include "pyprune/shape.h"
#include "typed.h"

namespace pyprune::bindings {

namespace py = pybind11;

[[noreturn]] void type_error(const std::string& msg);
[[noreturn]] void value_error(const std::string& msg);

std::string shape_str(const py::array& a);
// The array's shape as sizes (a graph::Dims).
std::vector<size_t> dims_of(const py::array& a);

// A C-contiguous, aligned array of dtype T and the given rank (any rank if negative), non-empty
// unless allowed.
template <typename T>
py::array typed_array(const py::handle& obj, const char* name, py::ssize_t ndim,
                      bool allow_empty = false);

// A float32, C-contiguous, aligned, non-empty array of the given rank.
inline py::array float_array(const py::handle& obj, const char* name, py::ssize_t ndim) {
  return typed_array<float>(obj, name, ndim);
}

// `obj` checked as a float32 vector of `size` floats, or an empty array when it is None.
py::array optional_vector(const py::object& obj, const char* name, py::ssize_t size);
// `obj` checked as a float32 array of exactly `shape`, or an empty array when it is None.
py::array optional_array(const py::object& obj, const char* name, const std::vector<py::ssize_t>& shape);
// The floats of an optional_vector or optional_array, nullptr for None.
inline const float* data_or_null(const py::array& a) {
  return a.size() != 0 ? static_cast<const float*>(a.data()) : nullptr;
}

// A Python int (not a bool): TypeError naming `name` if it is none, ValueError if it does not
// fit in 64 bits.
int64_t int_arg(const py::handle& obj, const char* name);
// int_arg, at least `min`.
size_t count_arg(const py::handle& obj, const char* name, int64_t min);

// A Python str as UTF-8, ValueError naming `name` if it holds a NUL character (messages that
// quote it would end there).
std::string text_arg(const py::handle& str, const std::string& name);

// The shape of a 4-D array.
Shape4 shape4(const py::array& a);

// True when the two arrays' memory overlaps (never for an empty one).
bool overlap(const py::array& a, const py::array& b);

// A new float32 array of `shape`, or the caller's `out` checked against it and the inputs.
py::array output_array(const py::object& out_obj, const std::vector<py::ssize_t>& shape,
                       std::initializer_list<const py::array*> inputs);

// The activation a Python caller names: kind (pyprune/activation.h's names), the clamp's min and
// max, the leaky_relu slope or elu's alpha. ValueError for a bad name or parameter.
Activation activation_arg(const std::string& kind, float min, float max, float alpha);

// op.run(x) -> y with the GIL released, y new or the caller's `out`, checked against the
// output shape op gives for x, through the epilogue: `residual` (None, or an array of y's shape)
// added, then the activation. For the operator classes of pyprune/*.h.
template <class Op>
py::array forward(const Op& op, const F32Arg& x_arg, float min, float max, const OptionalF32Arg& out_arg,
                  const std::string& kind, float alpha, const OptionalF32Arg& residual_arg) {
  const py::array x = float_array(x_arg.obj, "x", 4);
  const Shape4 in = shape4(x), y = op.output_shape(in);
  const std::vector<py::ssize_t> shape = {static_cast<py::ssize_t>(y.n), static_cast<py::ssize_t>(y.c),
                                          static_cast<py::ssize_t>(y.h), static_cast<py::ssize_t>(y.w)};
  const py::array residual = optional_array(residual_arg.obj, "residual", shape);
  py::array out = output_array(out_arg.obj, shape, {&x, &residual});
  const Epilogue epilogue(activation_arg(kind, min, max, alpha), data_or_null(residual));
  const float* in_data = static_cast<const float*>(x.data());
  float* out_data = static_cast<float*>(out.mutable_data());
  {
    py::gil_scoped_release release;
    op.run(in, in_data, out_data, epilogue);
  }
  return out;
}

}  // namespace pyprune::bindings
