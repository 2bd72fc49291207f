// Reference "same"-padding depthwise kernels: the obvious loops over the unpadded planes (see
// ukernels.h).
#include "pyprune/ukernels.h"

namespace {

template <int K, int S>
void dwconv2d_chw_same_ref(size_t channels, size_t input_height, size_t input_width, const float* input,
                           const float* weights, float* output, const pp_f32_minmax_params* params) {
  constexpr ptrdiff_t P = K / 2;
  const ptrdiff_t h = static_cast<ptrdiff_t>(input_height), w = static_cast<ptrdiff_t>(input_width);
  const ptrdiff_t oh = (h + 2 * P - K) / S + 1, ow = (w + 2 * P - K) / S + 1;
  for (size_t c = 0; c < channels; c++, input += h * w, weights += 1 + K * K) {
    for (ptrdiff_t y = 0; y < oh; y++) {
      for (ptrdiff_t x = 0; x < ow; x++, output++) {
        float acc = weights[0];
        for (ptrdiff_t i = 0; i < K; i++) {
          const ptrdiff_t row = S * y + i - P;
          if (row < 0 || row >= h) continue;
          for (ptrdiff_t j = 0; j < K; j++) {
            const ptrdiff_t col = S * x + j - P;
            if (col >= 0 && col < w) acc += weights[1 + i * K + j] * input[row * w + col];
          }
        }
        acc = acc < params->min ? params->min : acc;  // comparisons with NaN are false: NaN stays
        acc = acc > params->max ? params->max : acc;
        *output = acc;
      }
    }
  }
}

}  // namespace

#define PP_SAME_REF_UKERNEL(name, k, s)                                                               \
  extern "C" void name(size_t channels, size_t input_height, size_t input_width, const float* input, \
                       const float* weights, float* output, const float*,                            \
                       const pp_f32_minmax_params* params) {                                         \
    dwconv2d_chw_same_ref<k, s>(channels, input_height, input_width, input, weights, output, params); \
  }

PP_SAME_REF_UKERNEL(pp_f32_dwconv2d_chw_3x3p1_minmax_ukernel__ref, 3, 1)
PP_SAME_REF_UKERNEL(pp_f32_dwconv2d_chw_3x3s2p1_minmax_ukernel__ref, 3, 2)
PP_SAME_REF_UKERNEL(pp_f32_dwconv2d_chw_5x5p2_minmax_ukernel__ref, 5, 1)
PP_SAME_REF_UKERNEL(pp_f32_dwconv2d_chw_5x5s2p2_minmax_ukernel__ref, 5, 2)
PP_SAME_REF_UKERNEL(pp_f32_dwconv2d_chw_7x7p3_minmax_ukernel__ref, 7, 1)
PP_SAME_REF_UKERNEL(pp_f32_dwconv2d_chw_7x7s2p3_minmax_ukernel__ref, 7, 2)
