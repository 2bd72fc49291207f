// f32 Winograd F(6x6, 3x3) input transform, NEON, 4 tiles per vector.
#include "winograd-neon.h"

PP_F32_WINOGRAD_INPUT_NEON_UKERNEL(pp_f32_winograd_input_ukernel_6x6__neon, 6)
