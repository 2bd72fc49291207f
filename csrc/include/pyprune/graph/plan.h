// How a graph runs for one input-shape signature: every node's shapes, where every tensor it
// reads and writes lives, and the size of the arena holding the intermediate tensors
// (docs/graph.md, "Memory plan"). Made by Graph::plan; immutable once made. Python-free.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "pyprune/graph/operator.h"

namespace pyprune::graph {

class Graph;

// Where a tensor's floats are during a run.
struct Location {
  enum class Kind : uint8_t {
    none,      // nothing: a coded constant the operator decodes itself (Operator::decodes_coded)
    input,     // the caller's input `index`
    output,    // the caller's output `index`
    arena,     // the arena, at byte offset `index`
    constant,  // the graph's dense constant `data`
  };
  Kind kind = Kind::none;
  size_t index = 0;
  const float* data = nullptr;
};

// Coded weights decoded into the arena before a node runs.
struct Decode {
  const SharedWeights* weights;
  size_t offset;
};

// One node of the plan.
struct Step {
  std::vector<Location> inputs, outputs;
  std::vector<Dims> input_shapes, output_shapes;
  std::vector<Decode> decodes;
  bool view = false;  // its output is its input: nothing runs
  bool serial = false;  // too little work to share among threads: runs on the calling thread
};

// A graph output the caller's buffer receives after the last node: a graph input, a constant,
// or a tensor another output already holds.
struct OutputCopy {
  size_t output;
  Location from;
  size_t bytes;
  const SharedWeights* coded;  // decoded into the output instead when set
};

struct Plan {
  const Graph* graph;
  std::vector<Dims> input_shapes, output_shapes;
  std::vector<Step> steps;  // one per node
  std::vector<OutputCopy> copies;
  size_t arena_bytes = 0;   // peak memory of the intermediate tensors, 64-byte aligned
  size_t output_bytes = 0;  // the outputs', in the caller's buffers
};

}  // namespace pyprune::graph
