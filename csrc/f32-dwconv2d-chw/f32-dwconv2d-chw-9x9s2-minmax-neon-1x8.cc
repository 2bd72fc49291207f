// 9x9 stride-2 f32 NCHW depthwise conv + bias + min/max clamp, NEON, tiles of 1 output row x 8 columns.
#include "dwconv2d-chw-neon.h"

PP_DWCONV2D_CHW_NEON_UKERNEL(pp_f32_dwconv2d_chw_9x9s2_minmax_ukernel_1x8__neon, 9, 2, 1, 8)
