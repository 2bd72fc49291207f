// Shape inference and memory planning of a graph (pyprune/graph/plan.h). Internal to csrc/graph.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "pyprune/graph/graph.h"

namespace pyprune::graph {

// An intermediate tensor's memory: `bytes` needed from step `first` to step `last` (inclusive).
struct Block {
  size_t bytes, first, last;
  size_t offset = 0;  // in the arena, set by place()
};

// Gives every block an offset, first-fit in order of first use, such that blocks alive at a common
// step never overlap and a block's memory is not reused at the step right after its last (its
// readers' caches still hold it: see planner.cc); returns the arena size. Byte sizes must be
// multiples of the alignment.
size_t place(std::vector<Block>& blocks);

// Inside a catch block: rethrows the exception being handled with its message starting with
// `label` (std::invalid_argument and std::length_error; other exceptions as they are).
[[noreturn]] void rethrow_naming(const std::string& label);

// The plan of `graph` for inputs of these shapes (Graph::plan documents the errors).
Plan make_plan(const Graph& graph, const std::vector<Dims>& input_shapes);

}  // namespace pyprune::graph
