// f32 GEMM (1x1 conv, NCHW) microkernel, AVX-512, tile 5 output channels x 64 pixels.
#include "gemm-avx512.h"

PP_F32_GEMM_AVX512_UKERNEL(pp_f32_gemm_minmax_ukernel_5x64__avx512, 5, 4)
