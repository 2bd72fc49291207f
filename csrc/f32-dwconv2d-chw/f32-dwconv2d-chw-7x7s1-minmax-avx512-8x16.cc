// 7x7 stride-1 depthwise conv (NCHW fp32, clamp), AVX-512, tile 8 rows x 16 columns.
#include "dwconv2d-chw-avx512.h"

PP_DWCONV2D_CHW_AVX512_UKERNEL(pp_f32_dwconv2d_chw_7x7s1_minmax_ukernel_8x16__avx512, 7, 1, 8)
