// Splitting `rows` rows of `length` elements into tasks of about kTaskElements elements (whole
// rows grouped, or long rows cut into pieces) for parallel_for. The split depends on the sizes
// only, never on the thread count.
#pragma once

#include <algorithm>
#include <cstddef>

#include "pyprune/common.h"
#include "pyprune/threadpool.h"

namespace pyprune::graph {

// Enough work to be worth waking a thread for, small enough to balance over a few cores.
constexpr size_t kTaskElements = 16384;
// Less work than this in all is done by the calling thread alone: split, it would take about
// as long as handing it over to another core and waiting for it.
constexpr size_t kParallelElements = 4 * kTaskElements;

// task(first_row, row_count, begin, end): rows [first_row, first_row + row_count), elements
// [begin, end) of each. `cost`: the work of one element, in elements of a copy.
template <class Task>
void parallel_rows(size_t rows, size_t length, Task&& task, size_t cost = 1) {
  if (rows == 0 || length == 0) return;
  const size_t work = length > kTaskElements * 1024 / std::max<size_t>(cost, 1) ? kTaskElements * 1024 : length * cost;
  if (rows < pp_divide_round_up(kParallelElements, work)) {
    task(size_t{0}, rows, size_t{0}, length);
    return;
  }
  if (work >= kTaskElements && length > 16) {
    // Pieces of whole vectors (16 floats), so only a row's last piece has a ragged end.
    const size_t pieces = std::min(work / kTaskElements, length / 16);
    const size_t piece = pp_round_up(pp_divide_round_up(length, pieces), 16);
    const size_t per_row = pp_divide_round_up(length, piece);
    parallel_for(rows * per_row, [&](size_t t) {
      const size_t begin = t % per_row * piece;
      task(t / per_row, 1, begin, std::min(length, begin + piece));
    });
    return;
  }
  const size_t per_task = std::max<size_t>(1, kTaskElements / work);
  parallel_for(pp_divide_round_up(rows, per_task), [&](size_t t) {
    const size_t first = t * per_task;
    task(first, std::min(per_task, rows - first), 0, length);
  });
}

}  // namespace pyprune::graph
