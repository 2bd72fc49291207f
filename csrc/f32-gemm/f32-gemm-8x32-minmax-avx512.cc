// f32 GEMM (1x1 conv, NCHW) microkernel, AVX-512, tile 8 output channels x 32 pixels.
#include "gemm-avx512.h"

PP_F32_GEMM_AVX512_UKERNEL(pp_f32_gemm_minmax_ukernel_8x32__avx512, 8, 2)
