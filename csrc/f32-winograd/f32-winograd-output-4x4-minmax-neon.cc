// f32 Winograd F(4x4, 3x3) output transform with bias, residual and clamp, NEON.
#include "winograd-neon.h"

PP_F32_WINOGRAD_OUTPUT_NEON_UKERNEL(pp_f32_winograd_output_minmax_ukernel_4x4__neon, 4)
