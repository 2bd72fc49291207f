// 7x7 stride-1 f32 NCHW depthwise conv, padding 3 in the kernel, + bias + min/max clamp, AVX2, tiles of 8 output rows x 8 columns.
#include "dwconv2d-chw-same-x86.h"

PP_DWCONV2D_CHW_SAME_X86_UKERNEL(pp_f32_dwconv2d_chw_7x7p3_minmax_ukernel_8x8__avx2, Avx2, 7, 1, 8)
