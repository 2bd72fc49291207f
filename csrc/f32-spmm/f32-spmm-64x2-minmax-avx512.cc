// f32 SpMM (sparse convolution, NCHW) microkernel, AVX-512, 64 pixels x blocks of 2 output channels.
#include "spmm-avx512.h"

PP_F32_SPMM_AVX512_UKERNEL(pp_f32_spmm_minmax_ukernel_64x2__avx512, 64, 2)
