// The graph engine's executor: a validated graph of operators of the operator set
// (pyprune/graph/operator.h) run whole, its activations in one arena planned once per
// input-shape signature (docs/graph.md). Python-free.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "pyprune/graph/operator.h"
#include "pyprune/graph/plan.h"

namespace pyprune::graph {

// Limits of a graph: far above real networks (a few thousand nodes), and enforced before
// anything of their size is allocated.
constexpr size_t kMaxNodes = 100000;
constexpr size_t kMaxTensors = 100000;
// Most bytes of activations one run may need (its arena plus its outputs).
constexpr size_t kMaxActivationBytes = size_t{4} << 30;
// Plans kept per graph: the input-shape signatures seen last (a few batch sizes).
constexpr size_t kPlanCacheSize = 4;
// Most timed runs of one profile.
constexpr size_t kMaxRepeats = 10000;

struct Node {
  std::string op;
  std::string name;                     // where it comes from (e.g. a module path), for messages
  std::vector<size_t> inputs, outputs;  // tensor ids
  std::map<std::string, AttributeValue> attributes;
};

// A constant tensor given to the graph: dense floats, or Huffman-coded weights that stay coded
// in memory (kept alive by the graph) and are decoded when a node needs them. Dense values are
// read where their owner keeps them (a NumPy array, held until the graph goes), not copied: a
// network's weights are in memory once beside the kernels' packed copies.
struct ConstantData {
  Dims shape;
  const float* dense = nullptr;  // `dense_size` floats, alive as long as `owner`
  size_t dense_size = 0;
  std::shared_ptr<const void> owner;
  std::shared_ptr<const SharedWeights> coded;
};

// One node as it runs with some input shapes, for reports.
struct NodeInfo {
  std::string op, name;
  std::string what;  // Operator::describe_for(the step's input shapes)
  std::vector<Dims> output_shapes;
  size_t macs;
  bool one_thread;  // runs on the calling thread alone (Step::serial)
};

class Graph {
 public:
  // Nodes in topological order over tensors numbered [0, tensors). Validates everything that does
  // not depend on input shapes: std::invalid_argument naming the node (unknown op, tensor ids out
  // of range, a tensor produced twice, an input used before it is produced, bad attributes) or
  // the graph input/output/constant at fault.
  Graph(std::vector<Node> nodes, size_t tensors, std::vector<size_t> inputs, std::vector<size_t> outputs,
        std::map<size_t, ConstantData> constants);
  ~Graph();

  // How the graph runs with inputs of these shapes: planned on first use, cached for the last
  // kPlanCacheSize signatures. std::invalid_argument naming the node whose shape rule refuses
  // them, std::length_error when a size overflows or the activations exceed kMaxActivationBytes.
  // Safe to call from several threads at once.
  std::shared_ptr<const Plan> plan(const std::vector<Dims>& input_shapes) const;

  // Runs every node in order on `inputs` (the plan's input shapes), writing the graph outputs
  // into `outputs` (the plan's output shapes; they must not overlap the inputs or each other).
  // Runs from several threads at once each get their own arena. With `seconds` (one per node),
  // each node's time in this run is written there (0 for a node that is a view).
  void run(const Plan& plan, const std::vector<const float*>& inputs, const std::vector<float*>& outputs,
           double* seconds = nullptr) const;

  // Runs the graph `repeats` times (after one untimed run) on outputs of its own: the median
  // seconds of each node.
  std::vector<double> profile(const Plan& plan, const std::vector<const float*>& inputs, size_t repeats) const;

  std::vector<NodeInfo> describe(const Plan& plan) const;

  const std::vector<Node>& nodes() const { return nodes_; }
  const Operator& op(size_t node) const { return *ops_[node]; }
  size_t tensors() const { return tensors_; }
  const std::vector<size_t>& inputs() const { return inputs_; }
  const std::vector<size_t>& outputs() const { return outputs_; }
  // The constant with this tensor id, or nullptr.
  const Constant* constant(size_t tensor) const;
  // "node 3 (conv2d 'features.0')": how messages name a node.
  std::string label(size_t node) const;

 private:
  class Workspace;
  class Lease;

  void check_plan(const Plan& plan) const;
  void execute(const Plan& plan, const std::vector<const float*>& inputs, const std::vector<float*>& outputs,
               double* seconds) const;

  std::vector<Node> nodes_;
  std::vector<std::unique_ptr<Operator>> ops_;
  size_t tensors_;
  std::vector<size_t> inputs_, outputs_;
  // Constants by tensor id; std::map nodes never move, so the factories may keep Constant pointers.
  struct Stored {
    ConstantData data;
    Constant view;
  };
  std::map<size_t, Stored> constants_;

  mutable std::mutex plans_mutex_, idle_mutex_;
  mutable std::vector<std::shared_ptr<const Plan>> plans_;  // most recently used first
  mutable std::vector<std::unique_ptr<Workspace>> idle_;    // arenas of finished runs, for the next
};

}  // namespace pyprune::graph
