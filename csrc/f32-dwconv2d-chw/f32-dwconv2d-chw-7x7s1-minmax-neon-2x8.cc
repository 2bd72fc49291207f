// 7x7 stride-1 f32 NCHW depthwise conv + bias + min/max clamp, NEON, tiles of 2 output rows x 8 columns.
#include "dwconv2d-chw-neon.h"

PP_DWCONV2D_CHW_NEON_UKERNEL(pp_f32_dwconv2d_chw_7x7s1_minmax_ukernel_2x8__neon, 7, 1, 2, 8)
