// The graph engine's operator interface: what every operator of the operator set (docs/operators.md)
// implements, the checked attributes a node gives it, and its constant inputs. Python-free.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

namespace pyprune {
class SharedWeights;
}

namespace pyprune::graph {

// A tensor's shape: float32, C-contiguous, rank 0 to kMaxRank.
using Dims = std::vector<size_t>;
constexpr size_t kMaxRank = 8;

// Product of the dims, std::length_error if it overflows.
size_t elements(const Dims& dims);
std::string to_string(const Dims& dims);

using AttributeValue = std::variant<int64_t, double, std::string, std::vector<int64_t>, std::vector<double>>;

// A node's attributes, read through checked getters: a missing required attribute, a wrong type,
// a value out of range or an attribute the operator does not know is std::invalid_argument naming
// the node and the attribute.
class Attributes {
 public:
  Attributes(std::string node, std::map<std::string, AttributeValue> values);

  int64_t integer(const char* name, int64_t lo, int64_t hi) const;
  int64_t integer(const char* name, int64_t lo, int64_t hi, int64_t fallback) const;
  // Integers are accepted where a real number is asked for.
  double real(const char* name, double lo, double hi, double fallback) const;
  // Exactly `count` integers in [lo, hi] (fallback when absent, unless it is empty: required).
  std::vector<int64_t> integers(const char* name, size_t count, int64_t lo, int64_t hi,
                                std::vector<int64_t> fallback = {}) const;
  // Any number of integers in [min_count, max_count], each in [lo, hi]; required.
  std::vector<int64_t> integer_list(const char* name, size_t min_count, size_t max_count, int64_t lo,
                                    int64_t hi) const;
  std::vector<double> real_list(const char* name, size_t count, double lo, double hi,
                                std::vector<double> fallback = {}) const;
  std::string text(const char* name, const std::vector<std::string>& allowed, const char* fallback = nullptr) const;
  bool has(const char* name) const { return values_.count(name) != 0; }
  // Rejects attributes not in `known` (a misspelt or foreign attribute must not be ignored).
  void only(const std::vector<std::string>& known) const;

  [[noreturn]] void fail(const std::string& what) const;
  const std::string& node() const { return node_; }

 private:
  const AttributeValue* find(const char* name) const;

  std::string node_;
  std::map<std::string, AttributeValue> values_;
};

// A constant input of a node (weights, biases, BatchNorm scales): dense floats owned by the
// graph, or Huffman-coded weights decoded when the node runs (keep_compressed).
struct Constant {
  Dims shape;
  const float* dense = nullptr;
  const SharedWeights* coded = nullptr;
};

class Operator {
 public:
  virtual ~Operator() = default;
  // Output shapes for these input shapes: std::invalid_argument naming what does not fit,
  // std::length_error when a size overflows.
  virtual std::vector<Dims> output_shapes(const std::vector<Dims>& inputs) const = 0;
  // Computes the outputs, allocated by the graph with the shapes output_shapes gave. Threads
  // through parallel_for; results never depend on the number of threads.
  virtual void run(const std::vector<const float*>& inputs, const std::vector<Dims>& input_shapes,
                   const std::vector<float*>& outputs, const std::vector<Dims>& output_shapes) const = 0;
  // True when output 0 is input 0's memory reinterpreted (reshape): the graph does not copy.
  virtual bool view() const { return false; }
  // True when the operator decodes the coded constant at input `input` itself, from the Constant
  // its factory got (keep_compressed weights, decoded just before use): the graph then passes
  // nullptr for that input. Otherwise the graph decodes it into its arena before the node runs.
  virtual bool decodes_coded(size_t input) const {
    (void)input;
    return false;
  }
  // What runs, for reports: e.g. "conv2d 3x3 s2 depthwise 4x8 avx2 + relu6".
  virtual std::string describe() const = 0;
  // What runs for inputs of these shapes (an operator whose kernels depend on them says which).
  virtual std::string describe_for(const std::vector<Dims>& inputs) const {
    (void)inputs;
    return describe();
  }
  // Multiply-accumulates of one run with these input shapes (0 where it means nothing).
  virtual size_t macs(const std::vector<Dims>& inputs) const {
    (void)inputs;
    return 0;
  }
};

// Builds a node's operator from its attributes and its constant inputs (by input position;
// nullptr for inputs computed at run time). std::invalid_argument naming the node when the
// node is not one the operator takes.
using Factory = std::unique_ptr<Operator> (*)(const Attributes&, const std::vector<const Constant*>&);

// The operator set: op name -> factory. csrc/graph/operators.inc is its one list.
const std::map<std::string, Factory>& operators();

}  // namespace pyprune::graph
