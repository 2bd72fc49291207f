// The operator registry, built from the one list (operators.inc).
#include "pyprune/graph/factories.h"

namespace pyprune::graph {

const std::map<std::string, Factory>& operators() {
  static const std::map<std::string, Factory> table = {
#define PP_OPERATOR(name, factory) {name, factory},
#include "operators.inc"
#undef PP_OPERATOR
  };
  return table;
}

}  // namespace pyprune::graph
