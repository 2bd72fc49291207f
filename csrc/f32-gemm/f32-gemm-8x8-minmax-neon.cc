// f32 GEMM (1x1 conv, NCHW) + bias + min/max clamp, NEON, 8 output channels x 8 pixels per block.
#include "gemm-neon.h"

PP_F32_GEMM_NEON_UKERNEL(pp_f32_gemm_minmax_ukernel_8x8__neon)
