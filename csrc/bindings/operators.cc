// One operator of the operator set run alone on numpy arrays: _core.testing.run_operator, for the
// operators' tests (the graph runs them the same way, through the same registry).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "arrays.h"
#include "attributes.h"
#include "pyprune/graph/operator.h"
#include "register.h"

namespace pyprune::bindings {

namespace {

// `what` names the attribute in messages ("nodes[3]: attribute 'stride'").
graph::AttributeValue attribute(const std::string& what, const py::handle& value) {
  if (PyBool_Check(value.ptr())) value_error(what + " must not be a bool");
  if (PyLong_Check(value.ptr())) return static_cast<int64_t>(int_arg(value, what.c_str()));
  if (PyFloat_Check(value.ptr())) return value.cast<double>();
  if (PyUnicode_Check(value.ptr())) return text_arg(value, what);
  if (PyList_Check(value.ptr()) || PyTuple_Check(value.ptr())) {
    const py::sequence items = py::reinterpret_borrow<py::sequence>(value);
    bool all_ints = true;
    for (const py::handle item : items) all_ints = all_ints && PyLong_Check(item.ptr()) && !PyBool_Check(item.ptr());
    if (all_ints) {
      std::vector<int64_t> ints;
      for (const py::handle item : items) ints.push_back(int_arg(item, what.c_str()));
      return ints;
    }
    std::vector<double> reals;
    for (const py::handle item : items) {
      if (PyBool_Check(item.ptr()) || !(PyLong_Check(item.ptr()) || PyFloat_Check(item.ptr())))
        value_error(what + " must hold only numbers");
      reals.push_back(item.cast<double>());
    }
    return reals;
  }
  value_error(what + " must be an int, a float, a string or a list of numbers");
}

}  // namespace

std::map<std::string, graph::AttributeValue> attribute_values(const py::dict& attrs, const std::string& where) {
  std::map<std::string, graph::AttributeValue> values;
  for (const auto& [key, value] : attrs) {
    if (!PyUnicode_Check(key.ptr())) type_error(where + "attribute names must be strings");
    const std::string name = text_arg(key, where + "attribute names");
    values.emplace(name, attribute(where + "attribute '" + name + "'", value));
  }
  return values;
}

graph::Attributes attributes(const std::string& node, const py::dict& attrs) {
  return graph::Attributes(node, attribute_values(attrs, ""));
}

namespace {

// One operator built from Python values. inputs: one array per input position, or None for a
// constant given in `constants`.
struct Built {
  std::vector<py::array> arrays;
  std::vector<graph::Constant> constant_values;
  std::vector<const float*> data;
  std::vector<graph::Dims> shapes;
  std::unique_ptr<graph::Operator> op;

  Built(const std::string& name, const py::dict& attrs, const py::list& inputs, const py::dict& constants)
      : constant_values(inputs.size()) {
    const auto& table = graph::operators();
    const auto it = table.find(name);
    if (it == table.end()) value_error("unknown operator '" + name + "'");
    std::vector<const graph::Constant*> constant_inputs(inputs.size(), nullptr);
    for (size_t i = 0; i < inputs.size(); i++) {
      const bool constant = constants.contains(py::int_(i));
      const py::object source = constant ? py::object(constants[py::int_(i)]) : py::object(inputs[i]);
      const py::array a = typed_array<float>(source, ("input " + std::to_string(i)).c_str(), -1, true);
      arrays.push_back(a);
      data.push_back(static_cast<const float*>(a.data()));
      shapes.push_back(dims_of(a));
      if (constant) {
        constant_values[i] = {shapes.back(), data.back(), nullptr};
        constant_inputs[i] = &constant_values[i];
      }
    }
    op = it->second(attributes(name, attrs), constant_inputs);
  }
};

// out: the output arrays to write (for timing without allocation; they must not overlap the
// inputs), or None for new ones.
py::list run_operator(const std::string& op, const py::dict& attrs, const py::list& inputs, const py::dict& constants,
                      const std::optional<py::list>& out) {
  const Built built(op, attrs, inputs, constants);
  const std::vector<graph::Dims> out_shapes = built.op->output_shapes(built.shapes);
  py::list outputs;
  std::vector<float*> out_data;
  if (out && out->size() != out_shapes.size())
    value_error("out must hold " + std::to_string(out_shapes.size()) + " arrays");
  for (size_t i = 0; i < out_shapes.size(); i++) {
    const std::vector<py::ssize_t> shape(out_shapes[i].begin(), out_shapes[i].end());
    py::array_t<float> array = out ? py::array_t<float>() : py::array_t<float>(shape);
    if (out) {
      const std::string name = "out[" + std::to_string(i) + "]";
      array = typed_array<float>((*out)[i], name.c_str(), -1, true);
      if (static_cast<size_t>(array.ndim()) != shape.size() ||
          !std::equal(shape.begin(), shape.end(), array.shape()) || !array.writeable())
        value_error(name + " must be a writeable array of shape " + graph::to_string(out_shapes[i]) + ", got " +
                    shape_str(array));
    }
    out_data.push_back(array.mutable_data());
    outputs.append(array);
  }
  {
    py::gil_scoped_release release;
    built.op->run(built.data, built.shapes, out_data, out_shapes);
  }
  return outputs;
}

// What the operator says it runs, and its multiply-accumulates for these inputs.
py::tuple describe_operator(const std::string& op, const py::dict& attrs, const py::list& inputs,
                            const py::dict& constants) {
  const Built built(op, attrs, inputs, constants);
  return py::make_tuple(built.op->describe_for(built.shapes), built.op->macs(built.shapes));
}

}  // namespace

void register_operators(py::module_& testing) {
  testing.def("operators", [] {
    std::vector<std::string> names;
    for (const auto& [name, factory] : graph::operators()) names.push_back(name);
    return names;
  }, "The operator set: every operator the graph engine runs.");
  testing.def("run_operator", &run_operator, py::arg("op"), py::arg("attrs"), py::arg("inputs"),
              py::arg("constants") = py::dict(), py::arg("out") = py::none(),
              "Runs one operator of the operator set: inputs are float32 arrays (None where `constants` "
              "gives the input at that position as a constant); returns its outputs (written into `out`, "
              "a list of arrays of the output shapes, when given).");
  testing.def("describe_operator", &describe_operator, py::arg("op"), py::arg("attrs"), py::arg("inputs"),
              py::arg("constants") = py::dict(),
              "(description, multiply-accumulates) of one operator built as run_operator builds it.");
}

}  // namespace pyprune::bindings
