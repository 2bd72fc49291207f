// Microkernel tables as _core.testing shows them: one dict per row of an operator list.
#pragma once

#include <pybind11/pybind11.h>

#include <vector>

#include "pyprune/dispatch.h"

namespace pyprune::bindings {

// Per kernel: its name, ISA and production flag, then what `fill(row, kernel)` adds (its tile parameters).
template <class Ukernel, class Fill>
pybind11::list ukernel_rows(const std::vector<Ukernel>& table, Fill fill) {
  pybind11::list rows;
  for (const Ukernel& k : table) {
    pybind11::dict row;
    row["name"] = k.name;
    row["isa"] = pp_isa_name(k.isa);
    row["production"] = k.production;
    fill(row, k);
    rows.append(row);
  }
  return rows;
}

}  // namespace pyprune::bindings
