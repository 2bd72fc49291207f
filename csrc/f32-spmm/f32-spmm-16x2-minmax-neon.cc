// f32 SpMM (sparse convolution, NCHW) microkernel, NEON, 16 pixels x blocks of 2 output channels.
#include "spmm-neon.h"

PP_F32_SPMM_NEON_UKERNEL(pp_f32_spmm_minmax_ukernel_16x2__neon, 16, 2)
