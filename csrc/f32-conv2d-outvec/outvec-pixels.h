// How the x86 convolution kernels with output channels across the lanes address their MR
// pixels' inputs (contract: ukernels.h): through MR pointers in general, or, for tiles of
// pixels one stride apart in one output row (most of them), one pointer and immediate
// displacements. Twelve pointers do not fit the general-purpose registers beside the tap loop's
// (GCC kept three in vector registers, moved back every tap). 1 thread, alternating runs: the
// AVX-512 12x16 and 12x32 rows 1.08-1.24x faster on 3x3 layers of 16 to 64 channels at stride 1
// and 2 and on the 7x7 stride-2 RGB stem, AVX2's 12x8 1.0-1.15x.
#pragma once

#include <cstddef>

#include "pyprune/unroll.h"

namespace pp_f32_conv2d_outvec_x86 {

// Pixel p's input at tap offset o: pixels p * S floats after the first.
template <int S>
struct Strided {
  const float* base;
  PP_INLINE const float* operator()(int p, ptrdiff_t o) const { return base + o + S * p; }
};

// Pixel p's input at tap offset o through its own pointer.
template <int MR>
struct Pointers {
  const float* px[MR];
  PP_INLINE const float* operator()(int p, ptrdiff_t o) const { return px[p] + o; }
};

// Whether pixel p is at pixels[0] + p * step for every p.
template <int MR>
PP_INLINE bool evenly(const float* const* pixels, ptrdiff_t step) {
  for (int p = 1; p < MR; p++)
    if (pixels[p] != pixels[0] + p * step) return false;
  return true;
}

// f(at), at(p, o) the address of pixel p's input at tap offset o: Strided where the pixels are
// 1 or 2 floats apart and their pointers would not fit the registers (MR > 8), else Pointers.
template <int MR, class F>
PP_INLINE void with_pixels(const float* const* pixels, F&& f) {
  if constexpr (MR > 8) {
    if (evenly<MR>(pixels, 1)) return f(Strided<1>{pixels[0]});
    if (evenly<MR>(pixels, 2)) return f(Strided<2>{pixels[0]});
  }
  Pointers<MR> at;
  for (int p = 0; p < MR; p++) at.px[p] = pixels[p];
  f(at);
}

}  // namespace pp_f32_conv2d_outvec_x86
