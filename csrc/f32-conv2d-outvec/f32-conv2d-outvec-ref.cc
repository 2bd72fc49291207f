// f32 convolution with output channels across lanes, scalar reference: MR pixels x NC channels.
#include <algorithm>

#include "pyprune/ukernels.h"

namespace {

template <size_t MR, size_t NC>
void outvec_ref(size_t k, const float* const* pixels, const ptrdiff_t* offsets, const float* packed_w, float* output,
                size_t output_stride, const pp_f32_minmax_params* params) {
  float acc[MR][NC];
  for (size_t p = 0; p < MR; p++) std::copy_n(packed_w, NC, acc[p]);
  const float* w = packed_w + NC;
  for (size_t i = 0; i < k; i++, w += NC) {
    for (size_t p = 0; p < MR; p++) {
      const float a = pixels[p][offsets[i]];
      for (size_t c = 0; c < NC; c++) acc[p][c] += a * w[c];
    }
  }
  for (size_t c = 0; c < NC; c++) {
    float* row = reinterpret_cast<float*>(reinterpret_cast<char*>(output) + c * output_stride);
    for (size_t p = 0; p < MR; p++) row[p] = std::min(std::max(acc[p][c], params->min), params->max);
  }
}

}  // namespace

#define PP_REF(name, mr, nc)                                                                                   \
  extern "C" void name(size_t k, const float* const* pixels, const ptrdiff_t* offsets, const float* packed_w, \
                       float* output, size_t output_stride, const pp_f32_minmax_params* params) {             \
    outvec_ref<mr, nc>(k, pixels, offsets, packed_w, output, output_stride, params);                          \
  }
PP_REF(pp_f32_conv2d_outvec_minmax_ukernel_4x8__ref, 4, 8)
PP_REF(pp_f32_conv2d_outvec_minmax_ukernel_4x16__ref, 4, 16)
PP_REF(pp_f32_conv2d_outvec_minmax_ukernel_4x24__ref, 4, 24)
PP_REF(pp_f32_conv2d_outvec_minmax_ukernel_4x32__ref, 4, 32)
PP_REF(pp_f32_conv2d_outvec_minmax_ukernel_4x48__ref, 4, 48)
PP_REF(pp_f32_conv2d_outvec_minmax_ukernel_4x64__ref, 4, 64)
