// Reference f32 row-sum microkernel: each row summed in order (contract: ukernels.h).
#include "pyprune/ukernels.h"

extern "C" void pp_f32_rsum_ukernel_c1__ref(size_t n, size_t rows, const float* x, size_t x_stride, float* y) {
  PP_ASSERT(n >= 1 && rows >= 1);
  for (size_t r = 0; r < rows; r++) {
    const float* row = reinterpret_cast<const float*>(reinterpret_cast<const char*>(x) + r * x_stride);
    float sum = 0.0f;
    for (size_t i = 0; i < n; i++) sum += row[i];
    y[r] = sum;
  }
}
