// Reference Winograd output transforms: y = clamp(A^T M A + bias + residual) by the obvious
// loops over the matrices of pyprune/winograd.h, one tile at a time (see ukernels.h).
#include "pyprune/ukernels.h"
#include "pyprune/winograd.h"

namespace {

template <size_t M>
void output_ref(size_t tiles, size_t rows, size_t columns, const float* input, size_t input_stride, float bias,
                const float* residual, float* output, size_t output_stride, const pp_f32_minmax_params* params) {
  using W = pyprune::winograd::Matrices<M>;
  constexpr size_t A = W::kAlpha;
  PP_ASSERT(tiles >= 1 && rows >= 1 && rows <= M && columns > (tiles - 1) * M && columns <= tiles * M);
  for (size_t t = 0; t < tiles; t++) {
    float m[A][A], am[M][A];
    for (size_t i = 0; i < A; i++) {
      for (size_t j = 0; j < A; j++) {
        const float* row = reinterpret_cast<const float*>(reinterpret_cast<const char*>(input) + (i * A + j) * input_stride);
        m[i][j] = row[t];
      }
    }
    for (size_t r = 0; r < M; r++) {
      for (size_t j = 0; j < A; j++) {
        float acc = 0.0f;
        for (size_t k = 0; k < A; k++) acc += static_cast<float>(W::AT[r][k]) * m[k][j];
        am[r][j] = acc;
      }
    }
    for (size_t r = 0; r < rows; r++) {
      float* out = reinterpret_cast<float*>(reinterpret_cast<char*>(output) + r * output_stride);
      const float* res = residual == nullptr ? nullptr
          : reinterpret_cast<const float*>(reinterpret_cast<const char*>(residual) + r * output_stride);
      for (size_t c = 0; c < M && t * M + c < columns; c++) {
        float acc = 0.0f;
        for (size_t k = 0; k < A; k++) acc += am[r][k] * static_cast<float>(W::AT[c][k]);
        acc += bias;
        if (res != nullptr) acc += res[t * M + c];
        acc = acc < params->min ? params->min : acc;  // comparisons with NaN are false: NaN stays
        acc = acc > params->max ? params->max : acc;
        out[t * M + c] = acc;
      }
    }
  }
}

}  // namespace

extern "C" void pp_f32_winograd_output_minmax_ukernel_4x4__ref(size_t tiles, size_t rows, size_t columns,
                                                               const float* input, size_t input_stride, float bias,
                                                               const float* residual, float* output,
                                                               size_t output_stride,
                                                               const pp_f32_minmax_params* params) {
  output_ref<4>(tiles, rows, columns, input, input_stride, bias, residual, output, output_stride, params);
}

extern "C" void pp_f32_winograd_output_minmax_ukernel_6x6__ref(size_t tiles, size_t rows, size_t columns,
                                                               const float* input, size_t input_stride, float bias,
                                                               const float* residual, float* output,
                                                               size_t output_stride,
                                                               const pp_f32_minmax_params* params) {
  output_ref<6>(tiles, rows, columns, input, input_stride, bias, residual, output, output_stride, params);
}
