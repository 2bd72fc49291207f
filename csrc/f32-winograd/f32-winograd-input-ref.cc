// Reference Winograd input transforms: V = B^T d B by the obvious loops over the matrices of
// pyprune/winograd.h, one tile at a time (see ukernels.h).
#include "pyprune/ukernels.h"
#include "pyprune/winograd.h"

namespace {

template <size_t M>
void input_ref(size_t tiles, const float* input, size_t input_stride, float* output, size_t output_stride) {
  using W = pyprune::winograd::Matrices<M>;
  constexpr size_t A = W::kAlpha;
  PP_ASSERT(tiles >= 1);
  for (size_t t = 0; t < tiles; t++) {
    float d[A][A], bd[A][A];
    for (size_t i = 0; i < A; i++) {
      const float* row = reinterpret_cast<const float*>(reinterpret_cast<const char*>(input) + i * input_stride);
      for (size_t j = 0; j < A; j++) d[i][j] = row[t * M + j];
    }
    for (size_t i = 0; i < A; i++) {
      for (size_t j = 0; j < A; j++) {
        float acc = 0.0f;
        for (size_t k = 0; k < A; k++) acc += static_cast<float>(W::BT[i][k]) * d[k][j];
        bd[i][j] = acc;
      }
    }
    for (size_t i = 0; i < A; i++) {
      for (size_t j = 0; j < A; j++) {
        float acc = 0.0f;
        for (size_t k = 0; k < A; k++) acc += bd[i][k] * static_cast<float>(W::BT[j][k]);
        float* row = reinterpret_cast<float*>(reinterpret_cast<char*>(output) + (i * A + j) * output_stride);
        row[t] = acc;
      }
    }
  }
}

}  // namespace

extern "C" void pp_f32_winograd_input_ukernel_4x4__ref(size_t tiles, const float* input, size_t input_stride,
                                                       float* output, size_t output_stride) {
  input_ref<4>(tiles, input, input_stride, output, output_stride);
}

extern "C" void pp_f32_winograd_input_ukernel_6x6__ref(size_t tiles, const float* input, size_t input_stride,
                                                       float* output, size_t output_stride) {
  input_ref<6>(tiles, input, input_stride, output, output_stride);
}
