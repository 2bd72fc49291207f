// f32 SpMM (sparse convolution, NCHW) microkernel, AVX-512, 32 pixels x blocks of 8 output channels.
#include "spmm-avx512.h"

PP_F32_SPMM_AVX512_UKERNEL(pp_f32_spmm_minmax_ukernel_32x8__avx512, 32, 8)
