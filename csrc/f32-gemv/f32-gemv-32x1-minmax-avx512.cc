#include "gemv-x86.h"

extern "C" void pp_f32_gemv_minmax_ukernel_32x1__avx512(size_t n, size_t kc, const float* x, const float* packed_w,
                                                        float* y, const pp_f32_minmax_params* params) {
  pp_f32_gemv_x86::gemv<pp_x86::Avx512>(n, kc, x, packed_w, y, params);
}
