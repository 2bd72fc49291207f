// f32 convolution with output channels across lanes, AVX2+FMA: 6 pixels x 16 channels.
#include "conv2d-outvec-avx2.h"

PP_F32_CONV2D_OUTVEC_AVX2_UKERNEL(pp_f32_conv2d_outvec_minmax_ukernel_6x16__avx2, 6, 2)
