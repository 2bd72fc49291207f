// Reference depthwise kernels: the obvious loops over the padded strip (see ukernels.h).
#include "pyprune/ukernels.h"

namespace {

template <int K, int S>
void dwconv2d_chw_ref(size_t output_height, size_t output_width, const float* input,
                      const float* weights, float* output, size_t input_stride,
                      size_t output_stride, const pp_f32_minmax_params* params) {
  auto padded = [&](size_t row, size_t col) {
    const size_t phys_row = S == 1 ? row : 2 * row + (col & 1);
    const size_t phys_col = S == 1 ? col : col >> 1;
    return reinterpret_cast<const float*>(
        reinterpret_cast<const char*>(input) + phys_row * input_stride)[phys_col];
  };
  for (size_t y = 0; y < output_height; y++) {
    float* out_row = reinterpret_cast<float*>(reinterpret_cast<char*>(output) + y * output_stride);
    for (size_t x = 0; x < output_width; x++) {
      float acc = weights[0];
      for (int i = 0; i < K; i++) {
        for (int j = 0; j < K; j++) {
          acc += weights[1 + i * K + j] * padded(S * y + i, S * x + j);
        }
      }
      acc = acc < params->min ? params->min : acc;  // comparisons with NaN are false: NaN stays
      acc = acc > params->max ? params->max : acc;
      out_row[x] = acc;
    }
  }
}

}  // namespace

#define PP_REF_UKERNEL(name, k, s)                                                          \
  extern "C" void name(size_t output_height, size_t output_width, const float* input,     \
                       const float* weights, float* output, size_t input_stride,           \
                       size_t output_stride, const pp_f32_minmax_params* params) {         \
    dwconv2d_chw_ref<k, s>(output_height, output_width, input, weights, output,            \
                           input_stride, output_stride, params);                           \
  }

PP_REF_UKERNEL(pp_f32_dwconv2d_chw_3x3s1_minmax_ukernel__ref, 3, 1)
PP_REF_UKERNEL(pp_f32_dwconv2d_chw_3x3s2_minmax_ukernel__ref, 3, 2)
PP_REF_UKERNEL(pp_f32_dwconv2d_chw_5x5s1_minmax_ukernel__ref, 5, 1)
PP_REF_UKERNEL(pp_f32_dwconv2d_chw_5x5s2_minmax_ukernel__ref, 5, 2)
PP_REF_UKERNEL(pp_f32_dwconv2d_chw_7x7s1_minmax_ukernel__ref, 7, 1)
PP_REF_UKERNEL(pp_f32_dwconv2d_chw_7x7s2_minmax_ukernel__ref, 7, 2)
PP_REF_UKERNEL(pp_f32_dwconv2d_chw_9x9s1_minmax_ukernel__ref, 9, 1)
PP_REF_UKERNEL(pp_f32_dwconv2d_chw_9x9s2_minmax_ukernel__ref, 9, 2)
