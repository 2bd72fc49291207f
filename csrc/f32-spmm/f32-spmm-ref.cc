// Reference SpMM microkernels: the obvious loops over the block layout (see ukernels.h), one
// per weight block size.
#include "pyprune/ukernels.h"

namespace {

template <size_t NR>
void spmm_ref(size_t mc, size_t nc, const float* input, const float* weights,
              const int32_t* offsets, const uint32_t* counts, float* output, size_t output_stride,
              const pp_f32_minmax_params* params) {
  PP_ASSERT(mc >= 1 && nc >= 1);
  const char* in = reinterpret_cast<const char*>(input);
  size_t n = 0;
  while (n < nc) {
    const size_t rows = nc - n >= NR ? NR : 1;
    const size_t nnz = *counts++;
    for (size_t r = 0; r < rows; r++) {
      float* out = reinterpret_cast<float*>(reinterpret_cast<char*>(output) + (n + r) * output_stride);
      for (size_t p = 0; p < mc; p++) {
        float acc = weights[r];
        for (size_t j = 0; j < nnz; j++) {
          const float* row = reinterpret_cast<const float*>(in + offsets[j]);
          acc += weights[rows + j * rows + r] * row[p];
        }
        acc = acc < params->min ? params->min : acc;  // comparisons with NaN are false: NaN stays
        acc = acc > params->max ? params->max : acc;
        out[p] = acc;
      }
    }
    weights += rows * (1 + nnz);
    offsets += nnz;
    n += rows;
  }
}

}  // namespace

#define PP_SPMM_REF(nr)                                                                        \
  extern "C" void pp_f32_spmm_minmax_ukernel_1x##nr##__ref(                                    \
      size_t mc, size_t nc, const float* input, const float* weights, const int32_t* offsets,  \
      const uint32_t* counts, float* output, size_t output_stride,                             \
      const pp_f32_minmax_params* params) {                                                    \
    spmm_ref<nr>(mc, nc, input, weights, offsets, counts, output, output_stride, params);      \
  }

PP_SPMM_REF(1)
PP_SPMM_REF(2)
PP_SPMM_REF(4)
PP_SPMM_REF(8)
