// f32 SpMM (sparse convolution, NCHW) microkernel, NEON, 32 pixels x blocks of 1 output channels.
#include "spmm-neon.h"

PP_F32_SPMM_NEON_UKERNEL(pp_f32_spmm_minmax_ukernel_32x1__neon, 32, 1)
