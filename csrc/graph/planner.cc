// Shape inference and the memory plan. Every tensor's shape follows from the input shapes, node
// by node; then every tensor gets a place. Graph inputs and dense constants are read where they
// are; a tensor that is a graph output is written straight into the caller's buffer; the others
// share one arena, each living from the step that produces it to its last use (a view is its
// input's memory and extends its lifetime), placed first-fit as the steps go, its memory free
// again from the second step after its last use.
#include <algorithm>
#include <limits>
#include <map>
#include <numeric>
#include <stdexcept>
#include <string>

#include "planner.h"
#include "pyprune/common.h"
#include "pyprune/shape.h"

namespace pyprune::graph {

void rethrow_naming(const std::string& label) {
  const auto named = [&](const char* what) {
    return std::string(what).rfind(label, 0) == 0 ? std::string(what) : label + ": " + what;
  };
  try {
    throw;
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(named(e.what()));
  } catch (const std::length_error& e) {
    throw std::length_error(named(e.what()));
  }
}

size_t place(std::vector<Block>& blocks) {
  std::vector<size_t> by_first(blocks.size());
  std::iota(by_first.begin(), by_first.end(), 0);
  std::vector<size_t> by_last = by_first;
  std::stable_sort(by_first.begin(), by_first.end(),
                   [&](size_t a, size_t b) { return blocks[a].first < blocks[b].first; });
  std::stable_sort(by_last.begin(), by_last.end(), [&](size_t a, size_t b) { return blocks[a].last < blocks[b].last; });

  std::map<size_t, size_t> gaps;  // free ranges below `top`, offset -> bytes, never adjacent
  size_t top = 0, peak = 0, released = 0;
  const auto release = [&](const Block& dead) {
    if (dead.bytes == 0) return;
    auto gap = gaps.emplace(dead.offset, dead.bytes).first;
    const auto next = std::next(gap);
    if (next != gaps.end() && gap->first + gap->second == next->first) {
      gap->second += next->second;
      gaps.erase(next);
    }
    if (gap != gaps.begin()) {
      const auto before = std::prev(gap);
      if (before->first + before->second == gap->first) {
        before->second += gap->second;
        gaps.erase(gap);
        gap = before;
      }
    }
    if (gap->first + gap->second == top) {
      top = gap->first;
      gaps.erase(gap);
    }
  };
  const auto allocate = [&](size_t bytes) -> size_t {
    if (bytes == 0) return 0;
    for (auto gap = gaps.begin(); gap != gaps.end(); ++gap) {
      if (gap->second < bytes) continue;
      const size_t offset = gap->first, rest = gap->second - bytes;
      gaps.erase(gap);
      if (rest != 0) gaps.emplace(offset + bytes, rest);
      return offset;
    }
    const size_t offset = top;
    top += bytes;
    peak = std::max(peak, top);
    return offset;
  };
  // A block is freed for the steps from two after its last use: the threads that read it at that
  // step (every one, for a GEMM's input) still hold it in their caches, and a write there at the
  // very next step would make each store wait for the other cores to drop their copies.
  for (size_t b : by_first) {
    for (; released < by_last.size() && blocks[by_last[released]].last + 1 < blocks[b].first; released++)
      release(blocks[by_last[released]]);
    blocks[b].offset = allocate(blocks[b].bytes);
  }
  return peak;
}

namespace {

constexpr size_t kNone = std::numeric_limits<size_t>::max();
// A node of less work than kSerialWork (multiply-adds, and kOutputWork per output element:
// writing it costs about as much as that many), or of fewer than kSerialMacs multiply-adds
// into outputs of less than kSerialWork, or every node of a plan of less work than
// kSerialPlanWork in all, runs on the calling thread alone (Step::serial): handing part of it
// to another core, and the next node then reading what that core wrote, cost more than the
// half of the work saves. AVX-512, 2 threads: a 1x1 convolution alone of 20 K multiply-adds
// ran at 0.63x the speed of 1 thread; PointNet over 200 points (3 M in all) at 0.57x; a DETR
// decoder's linear layers of 80 K multiply-adds into 640 outputs took 4.4 us split against 1.9
// whole (the decoder 1.09-1.11x faster with them whole; 256 K lost 2.5 % on Conformer).
constexpr size_t kSerialWork = 64 * 1024;
constexpr size_t kSerialMacs = 128 * 1024;
constexpr size_t kOutputWork = 8;
constexpr size_t kSerialPlanWork = 4 * 1024 * 1024;

// The work of writing `outputs` as the rules above count it, saturated at kSerialPlanWork per
// output: only compared with them, it never overflows, whatever sizes a graph declares.
size_t output_work(const std::vector<Dims>& outputs) {
  size_t work = 0;
  for (const Dims& d : outputs) work += kOutputWork * std::min(elements(d), kSerialPlanWork);
  return work;
}

// The bytes of a tensor of shape `dims`; std::invalid_argument / std::length_error naming `what`
// when no tensor can have it.
size_t bytes_of(const Dims& dims, const std::string& what) {
  if (dims.size() > kMaxRank)
    throw std::invalid_argument(what + " has rank " + std::to_string(dims.size()) + ", more than " +
                                std::to_string(kMaxRank));
  try {
    return elements(dims) * sizeof(float);
  } catch (const std::length_error&) {
    throw std::length_error(what + " of shape " + to_string(dims) + " is too large");
  }
}

[[noreturn]] void too_large(size_t bytes) {
  throw std::length_error("the graph needs at least " + std::to_string(bytes) +
                          " bytes of activations for these input shapes, more than the limit of " +
                          std::to_string(kMaxActivationBytes));
}

}  // namespace

Plan make_plan(const Graph& graph, const std::vector<Dims>& input_shapes) {
  const std::vector<Node>& nodes = graph.nodes();
  const size_t steps = nodes.size(), tensors = graph.tensors();
  if (input_shapes.size() != graph.inputs().size())
    throw std::invalid_argument("the graph takes " + std::to_string(graph.inputs().size()) + " inputs, got " +
                                std::to_string(input_shapes.size()) + " shapes");

  Plan plan;
  plan.graph = &graph;
  plan.input_shapes = input_shapes;
  plan.steps.resize(steps);

  // Shapes, node by node; root[t]: the tensor whose memory t is (t itself unless t is a view).
  std::vector<Dims> shapes(tensors);
  std::vector<size_t> root(tensors), producer(tensors, kNone), input_of(tensors, kNone);
  std::iota(root.begin(), root.end(), 0);
  for (size_t k = 0; k < input_shapes.size(); k++) {
    bytes_of(input_shapes[k], "input " + std::to_string(k));
    shapes[graph.inputs()[k]] = input_shapes[k];
    input_of[graph.inputs()[k]] = k;
  }
  for (size_t t = 0; t < tensors; t++)
    if (const Constant* c = graph.constant(t)) shapes[t] = c->shape;
  size_t total_work = 0;  // for Step::serial, saturated at kSerialPlanWork
  for (size_t i = 0; i < steps; i++) {
    const Node& node = nodes[i];
    const Operator& op = graph.op(i);
    Step& step = plan.steps[i];
    for (size_t t : node.inputs) step.input_shapes.push_back(shapes[t]);
    try {
      step.output_shapes = op.output_shapes(step.input_shapes);
    } catch (...) {
      rethrow_naming(graph.label(i));
    }
    if (step.output_shapes.size() != node.outputs.size())
      throw std::invalid_argument(graph.label(i) + ": its operator gives " + std::to_string(step.output_shapes.size()) +
                                  " outputs, the node names " + std::to_string(node.outputs.size()));
    for (size_t j = 0; j < node.outputs.size(); j++) {
      bytes_of(step.output_shapes[j], graph.label(i) + ": output " + std::to_string(j));
      shapes[node.outputs[j]] = step.output_shapes[j];
      producer[node.outputs[j]] = i;
    }
    step.view = op.view();
    const size_t macs = std::min(op.macs(step.input_shapes), kSerialPlanWork), writes = output_work(step.output_shapes);
    const size_t work = macs + writes;
    step.serial = work < kSerialWork || (macs < kSerialMacs && writes < kSerialWork);
    total_work = std::min(total_work + work, kSerialPlanWork);
    if (step.view) {
      if (node.inputs.empty() || elements(step.output_shapes[0]) != elements(step.input_shapes[0]))
        throw std::invalid_argument(graph.label(i) + ": a view must keep its input's size");
      root[node.outputs[0]] = root[node.inputs[0]];
    }
  }
  if (total_work < kSerialPlanWork)
    for (Step& step : plan.steps) step.serial = true;

  // Lifetimes of the roots: the steps that need their memory. A node reading a coded constant it
  // decodes itself needs none; a view reads nothing (its readers are the ones that count).
  const auto coded = [&](size_t t) {
    const Constant* c = graph.constant(t);
    return c != nullptr ? c->coded : nullptr;
  };
  const auto decodes_itself = [&](size_t i, size_t j) {
    const size_t t = nodes[i].inputs[j];
    return coded(t) != nullptr && graph.op(i).decodes_coded(j);
  };
  std::vector<size_t> first(tensors, kNone), last(tensors, 0);
  const auto use = [&](size_t r, size_t step) {
    first[r] = std::min(first[r], step);
    last[r] = std::max(last[r], step);
  };
  for (size_t i = 0; i < steps; i++) {
    if (plan.steps[i].view) continue;
    for (size_t j = 0; j < nodes[i].inputs.size(); j++)
      if (!decodes_itself(i, j)) use(root[nodes[i].inputs[j]], i);
    for (size_t t : nodes[i].outputs) use(t, i);
  }

  // Graph outputs: the first output a produced tensor is becomes its memory; the others are
  // copied after the last step, from tensors that then live to the end.
  std::vector<size_t> bound(tensors, kNone), copied_roots;
  for (size_t k = 0; k < graph.outputs().size(); k++) {
    const size_t o = graph.outputs()[k], r = root[o];
    plan.output_shapes.push_back(shapes[o]);
    const size_t bytes = bytes_of(shapes[o], "output " + std::to_string(k));
    if (bytes > kMaxActivationBytes) too_large(bytes);
    plan.output_bytes = checked_add(plan.output_bytes, bytes, "the outputs");
    if (producer[r] != kNone && bound[r] == kNone) {
      bound[r] = k;
      continue;
    }
    plan.copies.push_back({k, Location{}, bytes, coded(r)});
    copied_roots.push_back(r);
    if (coded(r) == nullptr) use(r, steps);
  }

  // The arena: produced tensors not written into an output, and coded constants decoded for
  // nodes that read them as floats.
  std::vector<Block> blocks;
  std::vector<size_t> block_of(tensors, kNone);
  for (size_t r = 0; r < tensors; r++) {
    if (root[r] != r || first[r] == kNone || bound[r] != kNone) continue;
    if (producer[r] == kNone && coded(r) == nullptr) continue;
    const size_t bytes = elements(shapes[r]) * sizeof(float);
    if (bytes > kMaxActivationBytes) too_large(bytes);
    block_of[r] = blocks.size();
    blocks.push_back({pp_round_up(bytes, PP_ALIGNMENT), first[r], last[r]});
  }
  plan.arena_bytes = place(blocks);
  if (plan.arena_bytes + plan.output_bytes > kMaxActivationBytes) too_large(plan.arena_bytes + plan.output_bytes);

  const auto location = [&](size_t t) {
    const size_t r = root[t];
    if (bound[r] != kNone) return Location{Location::Kind::output, bound[r], nullptr};
    if (block_of[r] != kNone) return Location{Location::Kind::arena, blocks[block_of[r]].offset, nullptr};
    if (input_of[r] != kNone) return Location{Location::Kind::input, input_of[r], nullptr};
    const Constant* c = graph.constant(r);
    return c != nullptr && c->coded == nullptr ? Location{Location::Kind::constant, 0, c->dense} : Location{};
  };
  for (size_t r = 0; r < tensors; r++)
    if (block_of[r] != kNone && coded(r) != nullptr)
      plan.steps[first[r]].decodes.push_back({coded(r), blocks[block_of[r]].offset});
  for (size_t i = 0; i < steps; i++) {
    Step& step = plan.steps[i];
    for (size_t j = 0; j < nodes[i].inputs.size(); j++)
      step.inputs.push_back(decodes_itself(i, j) ? Location{} : location(nodes[i].inputs[j]));
    for (size_t t : nodes[i].outputs) step.outputs.push_back(location(t));
  }
  for (size_t c = 0; c < plan.copies.size(); c++)
    if (plan.copies[c].coded == nullptr) plan.copies[c].from = location(copied_roots[c]);
  return plan;
}

}  // namespace pyprune::graph
