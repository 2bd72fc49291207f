// f32 GEMM (1x1 conv, NCHW) microkernel, AVX-512, tile 12 output channels x 32 pixels.
#include "gemm-avx512.h"

PP_F32_GEMM_AVX512_UKERNEL(pp_f32_gemm_minmax_ukernel_12x32__avx512, 12, 2)
