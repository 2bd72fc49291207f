#include "arrays.h"

#include <cstdint>

namespace pyprune::bindings {

void type_error(const std::string& msg) { throw py::type_error(msg); }
void value_error(const std::string& msg) { throw py::value_error(msg); }

std::string shape_str(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t i = 0; i < a.ndim(); i++) s += (i ? ", " : "") + std::to_string(a.shape(i));
  return s + (a.ndim() == 1 ? ",)" : ")");
}

std::vector<size_t> dims_of(const py::array& a) {
  std::vector<size_t> d;
  for (py::ssize_t i = 0; i < a.ndim(); i++) d.push_back(static_cast<size_t>(a.shape(i)));
  return d;
}

template <typename T>
py::array typed_array(const py::handle& obj, const char* name, py::ssize_t ndim, bool allow_empty) {
  if (!py::isinstance<py::array>(obj)) type_error(std::string(name) + " must be a numpy array");
  auto a = py::reinterpret_borrow<py::array>(obj);
  const py::dtype want = py::dtype::of<T>();
  // Equal, not identical: an unpickled array's dtype is a new object describing the same type.
  if (!a.dtype().equal(want))
    type_error(std::string(name) + " must have dtype " + std::string(py::str(want)) + ", got " +
               std::string(py::str(a.dtype())));
  if (ndim >= 0 && a.ndim() != ndim)
    value_error(std::string(name) + " must have " + std::to_string(ndim) + " dimensions, got shape " +
                shape_str(a));
  if (!(a.flags() & py::array::c_style)) value_error(std::string(name) + " must be C-contiguous");
  if (reinterpret_cast<std::uintptr_t>(a.data()) % alignof(T) != 0)
    value_error(std::string(name) + " must be aligned to " + std::to_string(alignof(T)) + " bytes");
  if (!allow_empty)
    for (py::ssize_t i = 0; i < a.ndim(); i++)
      if (a.shape(i) == 0) value_error(std::string(name) + " must not be empty, got shape " + shape_str(a));
  return a;
}

template py::array typed_array<float>(const py::handle&, const char*, py::ssize_t, bool);
template py::array typed_array<std::int32_t>(const py::handle&, const char*, py::ssize_t, bool);
template py::array typed_array<std::uint32_t>(const py::handle&, const char*, py::ssize_t, bool);
template py::array typed_array<std::uint8_t>(const py::handle&, const char*, py::ssize_t, bool);
template py::array typed_array<std::uint16_t>(const py::handle&, const char*, py::ssize_t, bool);
template py::array typed_array<std::int64_t>(const py::handle&, const char*, py::ssize_t, bool);
template py::array typed_array<double>(const py::handle&, const char*, py::ssize_t, bool);

py::array optional_vector(const py::object& obj, const char* name, py::ssize_t size) {
  if (obj.is_none()) return py::array_t<float>(0);
  py::array a = float_array(obj, name, 1);
  if (a.shape(0) != size)
    value_error(std::string(name) + " must have shape (" + std::to_string(size) + ",), got " + shape_str(a));
  return a;
}

namespace {

// `name` as a float32 array of exactly `shape`.
py::array shaped_array(const py::object& obj, const char* name, const std::vector<py::ssize_t>& shape) {
  py::array a = float_array(obj, name, static_cast<py::ssize_t>(shape.size()));
  std::string want = "(";
  bool same = true;
  for (size_t i = 0; i < shape.size(); i++) {
    same = same && a.shape(i) == shape[i];
    want += (i ? ", " : "") + std::to_string(shape[i]);
  }
  if (!same) value_error(std::string(name) + " must have shape " + want + "), got " + shape_str(a));
  return a;
}

}  // namespace

py::array optional_array(const py::object& obj, const char* name, const std::vector<py::ssize_t>& shape) {
  return obj.is_none() ? py::array_t<float>(0) : shaped_array(obj, name, shape);
}

Activation activation_arg(const std::string& kind, float min, float max, float alpha) {
  try {
    return make_activation(kind, min, max, alpha);
  } catch (const std::invalid_argument& e) {
    value_error(e.what());
  }
}

int64_t int_arg(const py::handle& obj, const char* name) {
  if (PyBool_Check(obj.ptr()) || !PyLong_Check(obj.ptr()))
    type_error(std::string(name) + " must be an int, got " + std::string(py::str(py::type::handle_of(obj).attr("__name__"))));
  int overflow = 0;
  const long long value = PyLong_AsLongLongAndOverflow(obj.ptr(), &overflow);
  if (overflow != 0) value_error(std::string(name) + " is out of range: it does not fit in 64 bits");
  return value;
}

size_t count_arg(const py::handle& obj, const char* name, int64_t min) {
  const int64_t value = int_arg(obj, name);
  if (value < min)
    value_error(std::string(name) + " must be at least " + std::to_string(min) + ", got " + std::to_string(value));
  return static_cast<size_t>(value);
}

std::string text_arg(const py::handle& str, const std::string& name) {
  std::string text = str.cast<std::string>();
  if (text.find('\0') != std::string::npos) value_error(name + " must not contain NUL characters");
  return text;
}

Shape4 shape4(const py::array& a) {
  return {static_cast<size_t>(a.shape(0)), static_cast<size_t>(a.shape(1)), static_cast<size_t>(a.shape(2)),
          static_cast<size_t>(a.shape(3))};
}

bool overlap(const py::array& a, const py::array& b) {
  const char* a0 = static_cast<const char*>(a.data());
  const char* b0 = static_cast<const char*>(b.data());
  return a.nbytes() != 0 && b.nbytes() != 0 && a0 < b0 + b.nbytes() && b0 < a0 + a.nbytes();
}

// A new float32 array of `shape`, or the caller's `out` checked against it and the inputs.
py::array output_array(const py::object& out_obj, const std::vector<py::ssize_t>& shape,
                       std::initializer_list<const py::array*> inputs) {
  if (out_obj.is_none()) return py::array_t<float>(shape);
  py::array out = shaped_array(out_obj, "out", shape);
  if (!out.writeable()) value_error("out must be writeable");
  for (const py::array* in : inputs)
    if (overlap(out, *in)) value_error("out must not share memory with the inputs");
  return out;
}

}  // namespace pyprune::bindings
