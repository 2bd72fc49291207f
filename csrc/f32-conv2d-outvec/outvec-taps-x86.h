// The tap loop of the x86 convolution kernels with output channels across the lanes (contract:
// ukernels.h), written once for AVX2 and AVX-512 (x86_vector.h): per tap, NV loads of the
// packed weights, MR broadcasts of the pixels' inputs and MR*NV FMAs. A pixel's input is its
// own pointer plus the tap's offset, or, for tiles of pixels one stride apart in one output row
// (most of them), one pointer plus immediate displacements: twelve pointers do not fit the
// general-purpose registers beside the loop's (GCC kept three in vector registers, moved back
// every tap). 1 thread, alternating runs: the AVX-512 12x16 and 12x32 rows 1.08-1.24x faster on
// 3x3 layers of 16 to 64 channels at stride 1 and 2 and on the 7x7 stride-2 RGB stem, AVX2's
// 12x8 1.0-1.15x.
#pragma once

#include <cstddef>

#include "pyprune/unroll.h"
#include "pyprune/x86_vector.h"

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

// acc[p][v] += each of the k taps' weights (NV vectors at w, tap after tap) times pixel p's
// input at the tap.
template <class V, int MR, int NV>
PP_INLINE void taps(size_t k, const float* const* pixels, const ptrdiff_t* offsets, const float* w,
                    typename V::T (&acc)[MR][NV]) {
  with_pixels<MR>(pixels, [&](const auto& at) PP_INLINE_LAMBDA {
    for (size_t i = 0; i < k; i++, w += V::kLanes * NV) {
      const ptrdiff_t o = offsets[i];
      typename V::T wv[NV];
      pyprune::unroll<NV>([&](auto v) PP_INLINE_LAMBDA { wv[PP_CONST(v)] = V::load(w + V::kLanes * PP_CONST(v)); });
      pyprune::unroll<MR>([&](auto p) PP_INLINE_LAMBDA {
        const typename V::T a = V::splat(at(PP_CONST(p), o));
        pyprune::unroll<NV>([&](auto v) PP_INLINE_LAMBDA {
          acc[PP_CONST(p)][PP_CONST(v)] = V::fma(a, wv[PP_CONST(v)], acc[PP_CONST(p)][PP_CONST(v)]);
        });
      });
    }
  });
}

}  // namespace pp_f32_conv2d_outvec_x86
