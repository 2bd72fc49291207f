// 9x9 stride-2 depthwise conv (NCHW fp32, clamp), AVX2+FMA, tile 8 rows x 8 columns.
#include "dwconv2d-chw-avx2.h"

PP_DWCONV2D_CHW_AVX2_UKERNEL(pp_f32_dwconv2d_chw_9x9s2_minmax_ukernel_8x8__avx2, 9, 2, 8, 1)
