// f32 Winograd F(6x6, 3x3) output transform with bias, residual and clamp, AVX2+FMA.
#include "winograd-avx2.h"

PP_F32_WINOGRAD_OUTPUT_AVX2_UKERNEL(pp_f32_winograd_output_minmax_ukernel_6x6__avx2, 6)
