// 3x3 stride-2 depthwise conv (NCHW fp32, clamp), AVX2+FMA, tile 2 rows x 8 columns.
#include "dwconv2d-chw-avx2.h"

PP_DWCONV2D_CHW_AVX2_UKERNEL(pp_f32_dwconv2d_chw_3x3s2_minmax_ukernel_2x8__avx2, 3, 2, 2, 1)
