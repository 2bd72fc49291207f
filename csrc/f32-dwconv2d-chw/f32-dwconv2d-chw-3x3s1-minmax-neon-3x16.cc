// 3x3 stride-1 f32 NCHW depthwise conv + bias + min/max clamp, NEON, tiles of 3 output rows x 16 columns.
#include "dwconv2d-chw-neon.h"

PP_DWCONV2D_CHW_NEON_UKERNEL(pp_f32_dwconv2d_chw_3x3s1_minmax_ukernel_3x16__neon, 3, 1, 3, 16)
