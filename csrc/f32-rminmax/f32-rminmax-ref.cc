// Reference f32 row extreme microkernels: the row in order, NaN kept (contract: ukernels.h).
#include "pyprune/ukernels.h"

namespace {

template <bool kMax>
float extreme(size_t n, const float* x) {
  PP_ASSERT(n >= 1);
  float acc = x[0];
  for (size_t i = 0; i < n; i++) {
    const float v = x[i];
    if (v != v) return v;
    if (kMax ? v > acc : v < acc) acc = v;
  }
  return acc;
}

}  // namespace

extern "C" float pp_f32_rmax_ukernel__ref(size_t n, const float* x) { return extreme<true>(n, x); }
extern "C" float pp_f32_rmin_ukernel__ref(size_t n, const float* x) { return extreme<false>(n, x); }
