// The graph: validated once when built, planned per input-shape signature (planner.cc), run node
// by node. Concurrent runs share the plans (behind a mutex) and each take a workspace (arena and
// pointer lists) of their own, returned for the next run when done.
#include "pyprune/graph/graph.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>

#include "../ops/aligned_buffer.h"
#include "planner.h"
#include "pyprune/dispatch.h"
#include "pyprune/huffman.h"
#include "pyprune/threadpool.h"

namespace pyprune::graph {

namespace {

std::string tensor_text(size_t t) { return "tensor " + std::to_string(t); }

}  // namespace

// What one run needs besides its plan: the arena and the pointer lists handed to operators.
class Graph::Workspace {
 public:
  AlignedBuffer arena;
  std::vector<const float*> in;
  std::vector<float*> out;
};

// A workspace for the length of one run: an idle one if there is one, else a new one.
class Graph::Lease {
 public:
  explicit Lease(const Graph& graph) : graph_(graph) {
    std::lock_guard<std::mutex> lock(graph_.idle_mutex_);
    if (graph_.idle_.empty()) {
      workspace_ = std::make_unique<Workspace>();
    } else {
      workspace_ = std::move(graph_.idle_.back());
      graph_.idle_.pop_back();
    }
  }
  ~Lease() {
    std::lock_guard<std::mutex> lock(graph_.idle_mutex_);
    graph_.idle_.push_back(std::move(workspace_));
  }
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
  Workspace& operator*() const { return *workspace_; }

 private:
  const Graph& graph_;
  std::unique_ptr<Workspace> workspace_;
};

Graph::Graph(std::vector<Node> nodes, size_t tensors, std::vector<size_t> inputs, std::vector<size_t> outputs,
             std::map<size_t, ConstantData> constants)
    : nodes_(std::move(nodes)), tensors_(tensors), inputs_(std::move(inputs)), outputs_(std::move(outputs)) {
  if (nodes_.size() > kMaxNodes)
    throw std::invalid_argument("a graph has at most " + std::to_string(kMaxNodes) + " nodes, got " +
                                std::to_string(nodes_.size()));
  if (tensors_ > kMaxTensors)
    throw std::invalid_argument("a graph has at most " + std::to_string(kMaxTensors) + " tensors, got " +
                                std::to_string(tensors_));
  const auto check_id = [&](size_t t, const std::string& what) {
    if (t >= tensors_)
      throw std::invalid_argument(what + " is " + tensor_text(t) + ", out of range for " + std::to_string(tensors_) +
                                  " tensors");
  };
  // What defines each tensor so far, for messages: "" while nothing does.
  std::vector<std::string> defined(tensors_);
  for (size_t k = 0; k < inputs_.size(); k++) {
    const std::string what = "graph input " + std::to_string(k);
    check_id(inputs_[k], what);
    if (!defined[inputs_[k]].empty())
      throw std::invalid_argument(what + " is " + tensor_text(inputs_[k]) + ", already " + defined[inputs_[k]]);
    defined[inputs_[k]] = what;
  }
  for (auto& [t, data] : constants) {
    const std::string what = "constant " + tensor_text(t);
    check_id(t, what);
    if (!defined[t].empty()) throw std::invalid_argument(what + " is already " + defined[t]);
    if (data.shape.size() > kMaxRank)
      throw std::invalid_argument(what + " has rank " + std::to_string(data.shape.size()) + ", more than " +
                                  std::to_string(kMaxRank));
    const size_t n = elements(data.shape);
    const size_t given = data.coded ? data.coded->size() : data.dense_size;
    if ((data.coded && data.dense != nullptr) || (data.dense == nullptr && data.dense_size != 0) || given != n)
      throw std::invalid_argument(what + " of shape " + to_string(data.shape) + " holds " + std::to_string(given) +
                                  " values, not " + std::to_string(n));
    defined[t] = "a constant";
    Stored& stored = constants_[t];
    stored.data = std::move(data);
    stored.view = {stored.data.shape, stored.data.coded ? nullptr : stored.data.dense, stored.data.coded.get()};
  }
  for (size_t i = 0; i < nodes_.size(); i++) {
    const Node& node = nodes_[i];
    const auto found = operators().find(node.op);
    if (found == operators().end()) throw std::invalid_argument(label(i) + ": unknown op '" + node.op + "'");
    std::vector<const Constant*> node_constants;
    for (size_t j = 0; j < node.inputs.size(); j++) {
      const size_t t = node.inputs[j];
      check_id(t, label(i) + ": input " + std::to_string(j));
      if (defined[t].empty())
        throw std::invalid_argument(label(i) + ": input " + std::to_string(j) + " (" + tensor_text(t) +
                                    ") is used before any node produces it");
      node_constants.push_back(constant(t));
    }
    if (node.outputs.empty()) throw std::invalid_argument(label(i) + ": a node has at least one output");
    for (size_t j = 0; j < node.outputs.size(); j++) {
      const size_t t = node.outputs[j];
      check_id(t, label(i) + ": output " + std::to_string(j));
      if (!defined[t].empty())
        throw std::invalid_argument(label(i) + ": output " + std::to_string(j) + " (" + tensor_text(t) +
                                    ") is already " + defined[t]);
      defined[t] = "the output of " + label(i);
    }
    try {
      ops_.push_back(found->second(Attributes(label(i), node.attributes), node_constants));
    } catch (...) {
      rethrow_naming(label(i));
    }
  }
  if (outputs_.empty()) throw std::invalid_argument("a graph has at least one output");
  for (size_t k = 0; k < outputs_.size(); k++) {
    const std::string what = "graph output " + std::to_string(k);
    check_id(outputs_[k], what);
    if (defined[outputs_[k]].empty())
      throw std::invalid_argument(what + " (" + tensor_text(outputs_[k]) + ") is never produced");
  }
}

Graph::~Graph() = default;

const Constant* Graph::constant(size_t tensor) const {
  const auto it = constants_.find(tensor);
  return it == constants_.end() ? nullptr : &it->second.view;
}

std::string Graph::label(size_t node) const {
  const Node& n = nodes_[node];
  return "node " + std::to_string(node) + " (" + n.op + (n.name.empty() ? "" : " '" + n.name + "'") + ")";
}

std::shared_ptr<const Plan> Graph::plan(const std::vector<Dims>& input_shapes) const {
  std::lock_guard<std::mutex> lock(plans_mutex_);
  for (auto it = plans_.begin(); it != plans_.end(); ++it)
    if ((*it)->input_shapes == input_shapes) {
      std::rotate(plans_.begin(), it, std::next(it));
      return plans_.front();
    }
  plans_.insert(plans_.begin(), std::make_shared<const Plan>(make_plan(*this, input_shapes)));
  if (plans_.size() > kPlanCacheSize) plans_.pop_back();
  return plans_.front();
}

void Graph::check_plan(const Plan& plan) const {
  if (plan.graph != this) throw std::invalid_argument("the plan was made by another graph");
}

void Graph::execute(const Plan& plan, const std::vector<const float*>& inputs, const std::vector<float*>& outputs,
                    double* seconds) const {
  check_plan(plan);
  if (inputs.size() != inputs_.size() || outputs.size() != outputs_.size())
    throw std::invalid_argument("the graph takes " + std::to_string(inputs_.size()) + " inputs and " +
                                std::to_string(outputs_.size()) + " outputs, got " + std::to_string(inputs.size()) +
                                " and " + std::to_string(outputs.size()));
  Lease lease(*this);
  Workspace& work = *lease;
  work.arena.reserve(std::max<size_t>(plan.arena_bytes / sizeof(float), 1));
  char* arena = reinterpret_cast<char*>(work.arena.data());
  const auto writable = [&](const Location& l) {
    return l.kind == Location::Kind::output ? outputs[l.index] : reinterpret_cast<float*>(arena + l.index);
  };
  const auto readable = [&](const Location& l) -> const float* {
    switch (l.kind) {
      case Location::Kind::input: return inputs[l.index];
      case Location::Kind::constant: return l.data;
      case Location::Kind::none: return nullptr;
      default: return writable(l);
    }
  };
  const pp_u8_huffdec_ukernel& huffdec = pp_u8_huffdec_config();
  using Clock = std::chrono::steady_clock;
  for (size_t i = 0; i < plan.steps.size(); i++) {
    const Step& step = plan.steps[i];
    if (step.view) continue;
    const Clock::time_point start = seconds != nullptr ? Clock::now() : Clock::time_point();
    try {
      for (const Decode& d : step.decodes) d.weights->decode(huffdec, reinterpret_cast<float*>(arena + d.offset));
      work.in.clear();
      for (const Location& l : step.inputs) work.in.push_back(readable(l));
      work.out.clear();
      for (const Location& l : step.outputs) work.out.push_back(writable(l));
      std::optional<SerialScope> serial;
      if (step.serial) serial.emplace();
      ops_[i]->run(work.in, step.input_shapes, work.out, step.output_shapes);
    } catch (...) {
      rethrow_naming(label(i));
    }
    if (seconds != nullptr) seconds[i] = std::chrono::duration<double>(Clock::now() - start).count();
  }
  for (const OutputCopy& copy : plan.copies) {
    if (copy.coded != nullptr) {
      copy.coded->decode(huffdec, outputs[copy.output]);
    } else if (copy.bytes != 0) {
      std::memcpy(outputs[copy.output], readable(copy.from), copy.bytes);
    }
  }
}

void Graph::run(const Plan& plan, const std::vector<const float*>& inputs, const std::vector<float*>& outputs,
                double* seconds) const {
  if (seconds != nullptr) std::fill_n(seconds, plan.steps.size(), 0.0);
  execute(plan, inputs, outputs, seconds);
}

std::vector<double> Graph::profile(const Plan& plan, const std::vector<const float*>& inputs, size_t repeats) const {
  check_plan(plan);
  if (repeats < 1 || repeats > kMaxRepeats)
    throw std::invalid_argument("repeats must be in [1, " + std::to_string(kMaxRepeats) + "], got " +
                                std::to_string(repeats));
  std::vector<std::vector<float>> buffers;
  std::vector<float*> outputs;
  for (const Dims& shape : plan.output_shapes) {
    buffers.emplace_back(elements(shape));
    outputs.push_back(buffers.back().data());
  }
  execute(plan, inputs, outputs, nullptr);
  const size_t n = plan.steps.size();
  std::vector<double> seconds(n, 0.0), times(n * repeats);
  for (size_t r = 0; r < repeats; r++) {
    execute(plan, inputs, outputs, seconds.data());
    for (size_t i = 0; i < n; i++) times[i * repeats + r] = seconds[i];
  }
  std::vector<double> medians(n);
  for (size_t i = 0; i < n; i++) {
    const auto begin = times.begin() + static_cast<std::ptrdiff_t>(i * repeats);
    const auto middle = begin + static_cast<std::ptrdiff_t>(repeats / 2);
    std::nth_element(begin, middle, begin + static_cast<std::ptrdiff_t>(repeats));
    medians[i] = *middle;
  }
  return medians;
}

std::vector<NodeInfo> Graph::describe(const Plan& plan) const {
  check_plan(plan);
  std::vector<NodeInfo> infos;
  for (size_t i = 0; i < nodes_.size(); i++) {
    const Step& step = plan.steps[i];
    infos.push_back({nodes_[i].op, nodes_[i].name, ops_[i]->describe_for(step.input_shapes), step.output_shapes,
                     ops_[i]->macs(step.input_shapes), step.serial});
  }
  return infos;
}

}  // namespace pyprune::graph
