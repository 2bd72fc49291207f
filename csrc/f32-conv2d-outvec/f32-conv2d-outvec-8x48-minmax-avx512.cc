// f32 convolution with output channels across lanes, AVX-512: 8 pixels x 48 channels.
#include "conv2d-outvec-avx512.h"

PP_F32_CONV2D_OUTVEC_AVX512_UKERNEL(pp_f32_conv2d_outvec_minmax_ukernel_8x48__avx512, 8, 3)
