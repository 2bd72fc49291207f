// 5x5 stride-1 f32 NCHW depthwise conv, padding 2 in the kernel, + bias + min/max clamp, NEON, tiles of 3 output rows x 16 columns.
#include "dwconv2d-chw-same-neon.h"

PP_DWCONV2D_CHW_SAME_NEON_UKERNEL(pp_f32_dwconv2d_chw_5x5p2_minmax_ukernel_3x16__neon, 5, 1, 3, 16)
