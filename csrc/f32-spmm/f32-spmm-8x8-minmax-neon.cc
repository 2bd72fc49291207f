// f32 SpMM (sparse convolution, NCHW) microkernel, NEON, 8 pixels x blocks of 8 output channels.
#include "spmm-neon.h"

PP_F32_SPMM_NEON_UKERNEL(pp_f32_spmm_minmax_ukernel_8x8__neon, 8, 8)
