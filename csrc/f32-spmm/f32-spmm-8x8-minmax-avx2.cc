// f32 SpMM (sparse convolution, NCHW) microkernel, AVX2+FMA, 8 pixels x blocks of 8 output channels.
#include "spmm-avx2.h"

PP_F32_SPMM_AVX2_UKERNEL(pp_f32_spmm_minmax_ukernel_8x8__avx2, 8, 8)
