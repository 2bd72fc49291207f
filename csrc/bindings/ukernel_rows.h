// Microkernel tables as _core.testing shows them: one dict per row of an operator list.
#pragma once

#include <pybind11/pybind11.h>

#include <vector>

#include "pyprune/dispatch.h"

namespace pyprune::bindings {

// Per kernel: its name and ISA, then what `fill(row, kernel)` adds (its tile parameters).
template <class Ukernel, class Fill>
pybind11::list ukernel_rows(const std::vector<Ukernel>& table, Fill fill) {
  pybind11::list rows;
  for (const Ukernel& k : table) {
    pybind11::dict row;
    row["name"] = k.name;
    row["isa"] = pp_isa_name(k.isa);
    fill(row, k);
    rows.append(row);
  }
  return rows;
}

}  // namespace pyprune::bindings
