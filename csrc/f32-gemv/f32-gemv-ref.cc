// Reference GEMV microkernel: the obvious loops over the packed panels (see ukernels.h).
#include "pyprune/ukernels.h"

extern "C" void pp_f32_gemv_minmax_ukernel_4x1__ref(size_t n, size_t kc, const float* x, const float* packed_w,
                                                    float* y, const pp_f32_minmax_params* params) {
  constexpr size_t NR = 4;
  PP_ASSERT(n >= 1 && kc >= 1);
  for (size_t o = 0; o < n; o++) {
    const float* panel = packed_w + o / NR * NR * (1 + kc);
    const size_t lane = o % NR;
    float acc = panel[lane];
    for (size_t k = 0; k < kc; k++) acc += panel[NR + k * NR + lane] * x[k];
    acc = acc < params->min ? params->min : acc;  // comparisons with NaN are false: NaN stays
    acc = acc > params->max ? params->max : acc;
    y[o] = acc;
  }
}
