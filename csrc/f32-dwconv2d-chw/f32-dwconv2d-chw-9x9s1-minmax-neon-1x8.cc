// 9x9 stride-1 f32 NCHW depthwise conv + bias + min/max clamp, NEON, tiles of 1 output row x 8 columns.
#include "dwconv2d-chw-neon.h"

PP_DWCONV2D_CHW_NEON_UKERNEL(pp_f32_dwconv2d_chw_9x9s1_minmax_ukernel_1x8__neon, 9, 1, 1, 8)
