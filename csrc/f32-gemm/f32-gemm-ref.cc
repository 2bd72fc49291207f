// Reference GEMM microkernel: the obvious loops over the packed weights (see ukernels.h).
#include "pyprune/ukernels.h"

extern "C" void pp_f32_gemm_minmax_ukernel_4x8__ref(size_t mr, size_t nc, size_t kc,
                                                     const float* b, size_t b_stride,
                                                     const float* packed_w, float* c,
                                                     size_t c_stride,
                                                     const pp_f32_minmax_params* params) {
  constexpr size_t MR = 4;
  PP_ASSERT(mr >= 1 && mr <= MR && nc >= 1 && kc >= 1);
  for (size_t m = 0; m < mr; m++) {
    float* c_row = reinterpret_cast<float*>(reinterpret_cast<char*>(c) + m * c_stride);
    for (size_t n = 0; n < nc; n++) {
      float acc = packed_w[m];
      for (size_t k = 0; k < kc; k++) {
        const float* b_row = reinterpret_cast<const float*>(
            reinterpret_cast<const char*>(b) + k * b_stride);
        acc += packed_w[MR + k * MR + m] * b_row[n];
      }
      acc = acc < params->min ? params->min : acc;  // comparisons with NaN are false: NaN stays
      acc = acc > params->max ? params->max : acc;
      c_row[n] = acc;
    }
  }
}
