// 5x5 stride-1 f32 NCHW depthwise conv, padding 2 in the kernel, + bias + min/max clamp, AVX-512, tiles of 8 output rows x 16 columns.
#include "dwconv2d-chw-same-x86.h"

PP_DWCONV2D_CHW_SAME_X86_UKERNEL(pp_f32_dwconv2d_chw_5x5p2_minmax_ukernel_8x16__avx512, Avx512, 5, 1, 8)
