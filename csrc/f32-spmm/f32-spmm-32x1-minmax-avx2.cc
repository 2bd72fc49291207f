// f32 SpMM (sparse convolution, NCHW) microkernel, AVX2+FMA, 32 pixels x blocks of 1 output channels.
#include "spmm-avx2.h"

PP_F32_SPMM_AVX2_UKERNEL(pp_f32_spmm_minmax_ukernel_32x1__avx2, 32, 1)
