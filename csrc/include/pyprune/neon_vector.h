// Helpers of the NEON microkernels (compile for AArch64 only).
#pragma once

#include <arm_neon.h>

#include <cstddef>

#include "pyprune/unroll.h"

namespace pp_neon {

// The first n (0..4) lanes of v at p, nothing past them: a row's ragged end.
PP_INLINE void store_first(float* p, float32x4_t v, size_t n) {
  if (n == 4) {
    vst1q_f32(p, v);
    return;
  }
  float32x2_t part = vget_low_f32(v);
  if (n & 2) {
    vst1_f32(p, part);
    p += 2;
    part = vget_high_f32(v);
  }
  if (n & 1) vst1_lane_f32(p, part, 0);
}

}  // namespace pp_neon
