// 3x3 stride-1 f32 NCHW depthwise conv, padding 1 in the kernel, + bias + min/max clamp, NEON, tiles of 4 output rows x 16 columns.
#include "dwconv2d-chw-same-neon.h"

PP_DWCONV2D_CHW_SAME_NEON_UKERNEL(pp_f32_dwconv2d_chw_3x3p1_minmax_ukernel_4x16__neon, 3, 1, 4, 16)
