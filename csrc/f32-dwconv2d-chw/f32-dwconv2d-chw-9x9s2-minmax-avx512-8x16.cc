// 9x9 stride-2 depthwise conv (NCHW fp32, clamp), AVX-512, tile 8 rows x 16 columns.
#include "dwconv2d-chw-avx512.h"

PP_DWCONV2D_CHW_AVX512_UKERNEL(pp_f32_dwconv2d_chw_9x9s2_minmax_ukernel_8x16__avx512, 9, 2, 8)
