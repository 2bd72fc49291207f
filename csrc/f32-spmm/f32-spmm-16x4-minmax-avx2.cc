// f32 SpMM (sparse convolution, NCHW) microkernel, AVX2+FMA, 16 pixels x blocks of 4 output channels.
#include "spmm-avx2.h"

PP_F32_SPMM_AVX2_UKERNEL(pp_f32_spmm_minmax_ukernel_16x4__avx2, 16, 4)
