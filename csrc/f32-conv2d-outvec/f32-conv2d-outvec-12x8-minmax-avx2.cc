// f32 convolution with output channels across lanes, AVX2+FMA: 12 pixels x 8 channels.
#include "conv2d-outvec-avx2.h"

PP_F32_CONV2D_OUTVEC_AVX2_UKERNEL(pp_f32_conv2d_outvec_minmax_ukernel_12x8__avx2, 12, 1)
