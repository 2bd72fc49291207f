// f32 Winograd F(6x6, 3x3) input transform, AVX2+FMA, 8 tiles per vector.
#include "winograd-avx2.h"

PP_F32_WINOGRAD_INPUT_AVX2_UKERNEL(pp_f32_winograd_input_ukernel_6x6__avx2, 6)
