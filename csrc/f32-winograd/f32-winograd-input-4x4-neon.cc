// f32 Winograd F(4x4, 3x3) input transform, NEON, 4 tiles per vector.
#include "winograd-neon.h"

PP_F32_WINOGRAD_INPUT_NEON_UKERNEL(pp_f32_winograd_input_ukernel_4x4__neon, 4)
