// Argument checking shared by the binding files: every message names the bad argument.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <initializer_list>
#include <string>
#include <vector>

namespace pyprune::bindings {

namespace py = pybind11;

[[noreturn]] void type_error(const std::string& msg);
[[noreturn]] void value_error(const std::string& msg);

std::string shape_str(const py::array& a);

// A C-contiguous, aligned array of dtype T and the given rank, non-empty unless allowed.
template <typename T>
py::array typed_array(const py::handle& obj, const char* name, py::ssize_t ndim,
                      bool allow_empty = false);

// A float32, C-contiguous, aligned, non-empty array of the given rank.
inline py::array float_array(const py::handle& obj, const char* name, py::ssize_t ndim) {
  return typed_array<float>(obj, name, ndim);
}

// `obj` checked as a float32 vector of `size` floats, or an empty array when it is None.
py::array optional_vector(const py::object& obj, const char* name, py::ssize_t size);
// The floats of an optional_vector, nullptr for None.
inline const float* data_or_null(const py::array& a) {
  return a.size() != 0 ? static_cast<const float*>(a.data()) : nullptr;
}

// Checks the stride (>= 1) and the padding ([0, k - 1]) of a k x k convolution.
void check_stride_and_padding(py::ssize_t k, py::ssize_t stride, py::ssize_t padding);

// A new float32 array of `shape`, or the caller's `out` checked against it and the inputs.
py::array output_array(const py::object& out_obj, const std::vector<py::ssize_t>& shape,
                       std::initializer_list<const py::array*> inputs);

}  // namespace pyprune::bindings
