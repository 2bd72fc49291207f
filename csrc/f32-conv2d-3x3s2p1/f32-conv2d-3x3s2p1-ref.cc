// Reference 3x3 stride-2 padding-1 convolution of NCHW planes: the obvious loops (see
// ukernels.h).
#include "pyprune/ukernels.h"

extern "C" void pp_f32_conv2d_3x3s2p1_minmax_ukernel_4x1__ref(size_t mr, size_t channels, size_t first_row,
                                                              size_t rows, size_t input_height, size_t input_width,
                                                              const float* input, const float* packed_w, float* output,
                                                              size_t output_stride, const float*,
                                                              const pp_f32_minmax_params* params) {
  constexpr size_t MR = 4;
  const ptrdiff_t h = static_cast<ptrdiff_t>(input_height), w = static_cast<ptrdiff_t>(input_width);
  const ptrdiff_t ow = (w - 1) / 2 + 1;
  for (size_t m = 0; m < mr; m++) {
    float* plane = reinterpret_cast<float*>(reinterpret_cast<char*>(output) + m * output_stride);
    for (ptrdiff_t y = first_row; y < static_cast<ptrdiff_t>(first_row + rows); y++) {
      for (ptrdiff_t x = 0; x < ow; x++) {
        float acc = packed_w[m];
        for (ptrdiff_t ci = 0; ci < static_cast<ptrdiff_t>(channels); ci++) {
          for (ptrdiff_t i = 0; i < 3; i++) {
            const ptrdiff_t row = 2 * y + i - 1;
            if (row < 0 || row >= h) continue;
            for (ptrdiff_t j = 0; j < 3; j++) {
              const ptrdiff_t col = 2 * x + j - 1;
              if (col >= 0 && col < w) acc += packed_w[MR + (ci * 9 + i * 3 + j) * MR + m] * input[(ci * h + row) * w + col];
            }
          }
        }
        acc = acc < params->min ? params->min : acc;  // comparisons with NaN are false: NaN stays
        acc = acc > params->max ? params->max : acc;
        plane[y * ow + x] = acc;
      }
    }
  }
}
