// f32 GEMM (1x1 conv, NCHW) microkernel, AVX2+FMA, tile 6 output channels x 16 pixels.
#include "gemm-avx2.h"

PP_F32_GEMM_AVX2_UKERNEL(pp_f32_gemm_minmax_ukernel_6x16__avx2, 6, 2)
