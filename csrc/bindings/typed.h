// Python objects the bindings check themselves (so that every message names the argument),
// typed for the signatures pybind11 shows and the stubs generated from them (pyprune/_core.pyi).
#pragma once

#include <pybind11/pybind11.h>

namespace pyprune::bindings {

template <class Type>
struct Typed {
  pybind11::object obj;
};

#define PP_PYTHON_TYPE(alias, text)                                      \
  struct alias##Type {                                                   \
    static constexpr auto name = pybind11::detail::const_name(text);     \
  };                                                                     \
  using alias = Typed<alias##Type>;

PP_PYTHON_TYPE(IntArg, "int")
PP_PYTHON_TYPE(F32Arg, "numpy.typing.NDArray[numpy.float32]")
PP_PYTHON_TYPE(OptionalF32Arg, "numpy.typing.NDArray[numpy.float32] | None")
PP_PYTHON_TYPE(U8Arg, "numpy.typing.NDArray[numpy.uint8]")
PP_PYTHON_TYPE(OptionalU8Arg, "numpy.typing.NDArray[numpy.uint8] | None")
PP_PYTHON_TYPE(I32Arg, "numpy.typing.NDArray[numpy.int32]")
PP_PYTHON_TYPE(U32Arg, "numpy.typing.NDArray[numpy.uint32]")

#undef PP_PYTHON_TYPE

}  // namespace pyprune::bindings

namespace pybind11::detail {

// Takes any object as it is: the binding's own checks convert it.
template <class Type>
struct type_caster<pyprune::bindings::Typed<Type>> {
  PYBIND11_TYPE_CASTER(pyprune::bindings::Typed<Type>, Type::name);
  bool load(handle src, bool) {
    value.obj = reinterpret_borrow<object>(src);
    return true;
  }
  static handle cast(const pyprune::bindings::Typed<Type>& src, return_value_policy, handle) {
    return src.obj.inc_ref();
  }
};

}  // namespace pybind11::detail
