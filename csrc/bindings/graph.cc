// _core.Graph: a graph of operators run whole in C++ (pyprune/graph/graph.h). Converts the nodes,
// attributes and constants, every bad one named (nodes[3] inputs[1], constants[7], ...), and
// releases the GIL for planning and for whole runs.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "arrays.h"
#include "attributes.h"
#include "pyprune/graph/graph.h"
#include "pyprune/huffman.h"
#include "register.h"
#include "typed.h"

namespace pyprune::bindings {

namespace {

struct NodesType {
  static constexpr auto name = py::detail::const_name(
      "list[tuple[str, str, list[int], list[int], dict[str, int | float | str | list[int] | list[float]]]]");
};
struct IdsType {
  static constexpr auto name = py::detail::const_name("list[int]");
};
struct ConstantsType {
  static constexpr auto name = py::detail::const_name(
      "dict[int, numpy.typing.NDArray[numpy.float32] | tuple[SharedWeights, tuple[int, ...]]]");
};
struct ShapesType {
  static constexpr auto name = py::detail::const_name("list[tuple[int, ...]]");
};
struct ArraysType {
  static constexpr auto name = py::detail::const_name("list[numpy.typing.NDArray[numpy.float32]]");
};
struct OptionalArraysType {
  static constexpr auto name = py::detail::const_name("list[numpy.typing.NDArray[numpy.float32]] | None");
};
struct OptionalSecondsType {
  static constexpr auto name = py::detail::const_name("numpy.typing.NDArray[numpy.float64] | None");
};
struct SecondsType {
  static constexpr auto name = py::detail::const_name("list[float]");
};
struct DescriptionsType {
  static constexpr auto name = py::detail::const_name("list[dict[str, typing.Any]]");
};
using NodesArg = Typed<NodesType>;
using IdsArg = Typed<IdsType>;
using ConstantsArg = Typed<ConstantsType>;
using ShapesArg = Typed<ShapesType>;
using Arrays = Typed<ArraysType>;
using OptionalArrays = Typed<OptionalArraysType>;
using OptionalSeconds = Typed<OptionalSecondsType>;
using Seconds = Typed<SecondsType>;
using Descriptions = Typed<DescriptionsType>;

std::string item(const std::string& name, size_t i) { return name + "[" + std::to_string(i) + "]"; }

py::sequence list_arg(const py::handle& obj, const std::string& name) {
  if (!PyList_Check(obj.ptr()) && !PyTuple_Check(obj.ptr()))
    type_error(name + " must be a list, got " + Py_TYPE(obj.ptr())->tp_name);
  return py::reinterpret_borrow<py::sequence>(obj);
}

std::string str_arg(const py::handle& obj, const std::string& name) {
  if (!PyUnicode_Check(obj.ptr()))
    type_error(name + " must be a str, got " + Py_TYPE(obj.ptr())->tp_name);
  return text_arg(obj, name);
}

std::vector<size_t> ids_arg(const py::handle& obj, const std::string& name) {
  std::vector<size_t> ids;
  const py::sequence items = list_arg(obj, name);
  for (size_t i = 0; i < items.size(); i++) ids.push_back(count_arg(items[i], item(name, i).c_str(), 0));
  return ids;
}

graph::Dims dims_arg(const py::handle& obj, const std::string& name) {
  graph::Dims dims;
  const py::sequence items = list_arg(obj, name);
  if (items.size() > graph::kMaxRank)
    value_error(name + " has rank " + std::to_string(items.size()) + ", more than " + std::to_string(graph::kMaxRank));
  for (size_t i = 0; i < items.size(); i++) dims.push_back(count_arg(items[i], item(name, i).c_str(), 0));
  return dims;
}

std::vector<graph::Dims> shapes_arg(const ShapesArg& shapes, const char* name) {
  std::vector<graph::Dims> dims;
  const py::sequence items = list_arg(shapes.obj, name);
  for (size_t i = 0; i < items.size(); i++) dims.push_back(dims_arg(items[i], item(name, i)));
  return dims;
}

py::tuple shape_tuple(const graph::Dims& dims) {
  py::tuple t(dims.size());
  for (size_t i = 0; i < dims.size(); i++) t[i] = py::int_(dims[i]);
  return t;
}

py::list shape_tuples(const std::vector<graph::Dims>& shapes) {
  py::list list;
  for (const graph::Dims& d : shapes) list.append(shape_tuple(d));
  return list;
}

graph::Node node_arg(const py::handle& obj, size_t i) {
  const std::string name = item("nodes", i);
  const py::sequence fields = list_arg(obj, name);
  if (fields.size() != 5) value_error(name + " must be (op, name, inputs, outputs, attrs), got " +
                                      std::to_string(fields.size()) + " fields");
  if (!PyDict_Check(py::object(fields[4]).ptr())) type_error(name + " attrs must be a dict");
  return {str_arg(fields[0], name + " op"), str_arg(fields[1], name + " name"), ids_arg(fields[2], name + " inputs"),
          ids_arg(fields[3], name + " outputs"), attribute_values(py::dict(fields[4]), name + ": ")};
}

graph::ConstantData constant_arg(const py::handle& obj, const std::string& name) {
  graph::ConstantData c;
  if (PyTuple_Check(obj.ptr())) {
    const py::tuple pair = py::reinterpret_borrow<py::tuple>(obj);
    if (pair.size() != 2 || !py::isinstance<SharedWeights>(pair[0]))
      type_error(name + " must be a float32 array or a (SharedWeights, shape) pair");
    c.coded = pair[0].cast<std::shared_ptr<SharedWeights>>();
    c.shape = dims_arg(pair[1], name + " shape");
    return c;
  }
  const py::array a = typed_array<float>(obj, name.c_str(), -1, /*allow_empty=*/true);
  if (a.ndim() > static_cast<py::ssize_t>(graph::kMaxRank))
    value_error(name + " has rank " + std::to_string(a.ndim()) + ", more than " + std::to_string(graph::kMaxRank));
  c.shape = dims_of(a);
  c.dense = static_cast<const float*>(a.data());
  c.dense_size = static_cast<size_t>(a.size());
  if (a.writeable()) {  // its owner may still change it: the graph reads a copy
    auto copy = std::make_shared<const std::vector<float>>(c.dense, c.dense + c.dense_size);
    c.dense = copy->data();
    c.owner = std::move(copy);
  } else {  // read-only (a packed file's weights): read where it is, the array kept until the graph goes
    c.owner = std::shared_ptr<const void>(new py::object(a), [](const void* array) {
      py::gil_scoped_acquire gil;
      delete static_cast<const py::object*>(array);
    });
  }
  return c;
}

std::unique_ptr<graph::Graph> make_graph(const NodesArg& nodes_arg, const IntArg& tensors, const IdsArg& inputs,
                                         const IdsArg& outputs, const ConstantsArg& constants_arg) {
  const py::sequence items = list_arg(nodes_arg.obj, "nodes");
  if (items.size() > graph::kMaxNodes)
    value_error("nodes: a graph has at most " + std::to_string(graph::kMaxNodes) + " nodes, got " +
                std::to_string(items.size()));
  std::vector<graph::Node> nodes;
  for (size_t i = 0; i < items.size(); i++) nodes.push_back(node_arg(items[i], i));
  if (!PyDict_Check(constants_arg.obj.ptr())) type_error("constants must be a dict");
  std::map<size_t, graph::ConstantData> constants;
  for (const auto& [key, value] : py::reinterpret_borrow<py::dict>(constants_arg.obj)) {
    const size_t id = count_arg(key, "constants key", 0);
    constants.emplace(id, constant_arg(value, item("constants", id)));
  }
  return std::make_unique<graph::Graph>(std::move(nodes), count_arg(tensors.obj, "tensors", 0),
                                        ids_arg(inputs.obj, "inputs"), ids_arg(outputs.obj, "outputs"),
                                        std::move(constants));
}

std::shared_ptr<const graph::Plan> plan_for(const graph::Graph& g, const std::vector<graph::Dims>& shapes) {
  py::gil_scoped_release release;
  return g.plan(shapes);
}

// The input arrays, checked; their shapes.
std::vector<py::array> input_arrays(const graph::Graph& g, const py::handle& obj, std::vector<graph::Dims>& shapes) {
  const py::sequence items = list_arg(obj, "inputs");
  if (items.size() != g.inputs().size())
    value_error("inputs must hold " + std::to_string(g.inputs().size()) + " arrays, got " +
                std::to_string(items.size()));
  std::vector<py::array> arrays;
  for (size_t k = 0; k < items.size(); k++) {
    const std::string name = item("inputs", k);
    arrays.push_back(typed_array<float>(items[k], name.c_str(), -1, /*allow_empty=*/true));
    if (arrays.back().ndim() > static_cast<py::ssize_t>(graph::kMaxRank))
      value_error(name + " has rank " + std::to_string(arrays.back().ndim()) + ", more than " +
                  std::to_string(graph::kMaxRank));
    shapes.push_back(dims_of(arrays.back()));
  }
  return arrays;
}

std::vector<const float*> data_of(const std::vector<py::array>& arrays) {
  std::vector<const float*> data;
  for (const py::array& a : arrays) data.push_back(static_cast<const float*>(a.data()));
  return data;
}

// New output arrays, or the caller's checked: shapes, writeable, sharing memory with nothing.
std::vector<py::array> output_arrays(const graph::Plan& plan, const py::object& obj,
                                     const std::vector<py::array>& inputs) {
  std::vector<py::array> arrays;
  if (obj.is_none()) {
    for (const graph::Dims& d : plan.output_shapes)
      arrays.push_back(py::array_t<float>(std::vector<py::ssize_t>(d.begin(), d.end())));
    return arrays;
  }
  const py::sequence items = list_arg(obj, "outputs");
  if (items.size() != plan.output_shapes.size())
    value_error("outputs must hold " + std::to_string(plan.output_shapes.size()) + " arrays, got " +
                std::to_string(items.size()));
  for (size_t k = 0; k < items.size(); k++) {
    const std::string name = item("outputs", k);
    const py::array a = typed_array<float>(items[k], name.c_str(), -1, /*allow_empty=*/true);
    if (dims_of(a) != plan.output_shapes[k])
      value_error(name + " must have shape " + graph::to_string(plan.output_shapes[k]) + ", got " + shape_str(a));
    if (!a.writeable()) value_error(name + " must be writeable");
    for (const py::array& in : inputs)
      if (overlap(a, in)) value_error(name + " must not share memory with the inputs");
    for (const py::array& other : arrays)
      if (overlap(a, other)) value_error(name + " must not share memory with another output");
    arrays.push_back(a);
  }
  return arrays;
}

// `obj` checked as a writeable float64 vector of one entry per node, or nullptr when it is None.
double* node_seconds(const graph::Graph& g, const py::object& obj) {
  if (obj.is_none()) return nullptr;
  py::array a = typed_array<double>(obj, "node_seconds", 1, /*allow_empty=*/true);
  if (static_cast<size_t>(a.size()) != g.nodes().size())
    value_error("node_seconds must hold " + std::to_string(g.nodes().size()) + " floats, one per node, got " +
                std::to_string(a.size()));
  if (!a.writeable()) value_error("node_seconds must be writeable");
  return static_cast<double*>(a.mutable_data());
}

Arrays run(const graph::Graph& g, const Arrays& inputs_arg, const OptionalArrays& outputs_arg,
           const OptionalSeconds& seconds_arg) {
  std::vector<graph::Dims> shapes;
  const std::vector<py::array> inputs = input_arrays(g, inputs_arg.obj, shapes);
  double* seconds = node_seconds(g, seconds_arg.obj);
  const auto plan = plan_for(g, shapes);
  std::vector<py::array> outputs = output_arrays(*plan, outputs_arg.obj, inputs);
  std::vector<float*> out;
  for (py::array& a : outputs) out.push_back(static_cast<float*>(a.mutable_data()));
  const std::vector<const float*> in = data_of(inputs);
  {
    py::gil_scoped_release release;
    g.run(*plan, in, out, seconds);
  }
  py::list result;
  for (const py::array& a : outputs) result.append(a);
  return {result};
}

Seconds profile(const graph::Graph& g, const Arrays& inputs_arg, const IntArg& repeats) {
  std::vector<graph::Dims> shapes;
  const std::vector<py::array> inputs = input_arrays(g, inputs_arg.obj, shapes);
  const size_t n = count_arg(repeats.obj, "repeats", 1);
  const auto plan = plan_for(g, shapes);
  const std::vector<const float*> in = data_of(inputs);
  std::vector<double> seconds;
  {
    py::gil_scoped_release release;
    seconds = g.profile(*plan, in, n);
  }
  return {py::cast(seconds)};
}

Descriptions describe(const graph::Graph& g, const ShapesArg& shapes) {
  const auto plan = plan_for(g, shapes_arg(shapes, "input_shapes"));
  py::list nodes;
  for (const graph::NodeInfo& info : g.describe(*plan)) {
    py::dict d;
    d["op"] = info.op;
    d["name"] = info.name;
    d["kernel"] = info.what;
    d["output_shapes"] = shape_tuples(info.output_shapes);
    d["macs"] = info.macs;
    d["one_thread"] = info.one_thread;
    nodes.append(d);
  }
  return {nodes};
}

}  // namespace

void register_graph(py::module_& m) {
  py::class_<graph::Graph>(m, "Graph",
                           "A graph of operators of the operator set, run whole in C++: nodes in topological "
                           "order over tensors numbered 0 .. tensors - 1 (docs/graph.md).")
      .def(py::init(&make_graph), py::arg("nodes"), py::arg("tensors"), py::arg("inputs"), py::arg("outputs"),
           py::arg("constants"),
           "nodes: (op, name, input ids, output ids, attrs) each; constants: tensor id -> float32 array (copied) "
           "or (SharedWeights, shape) (kept coded). ValueError naming the node or argument at fault.")
      .def("output_shapes", [](const graph::Graph& g, const ShapesArg& shapes) {
        return Typed<ShapesType>{shape_tuples(plan_for(g, shapes_arg(shapes, "input_shapes"))->output_shapes)};
      }, py::arg("input_shapes"), "The output shapes for inputs of these shapes (planning the run).")
      .def("arena_bytes", [](const graph::Graph& g, const ShapesArg& shapes) {
        return plan_for(g, shapes_arg(shapes, "input_shapes"))->arena_bytes;
      }, py::arg("input_shapes"), "Bytes of intermediate tensors one run with these input shapes needs (the arena).")
      .def("run", &run, py::arg("inputs"), py::arg("outputs") = py::none(), py::arg("node_seconds") = py::none(),
           "Runs the graph: float32 arrays in, its outputs as new arrays (or written into `outputs`). "
           "node_seconds: a float64 array of one entry per node, given each node's seconds in this run.")
      .def("profile", &profile, py::arg("inputs"), py::arg("repeats") = 10,
           "Median seconds of each node over `repeats` runs (after one untimed run).")
      .def("describe", &describe, py::arg("input_shapes"),
           "Each node with these input shapes: op, name, kernel (what runs), output_shapes, macs, one_thread (too little work to share among threads: runs on the calling thread alone).");
}

}  // namespace pyprune::bindings
