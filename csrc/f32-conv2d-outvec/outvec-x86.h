// The x86 convolution kernels with output channels across the lanes (contract: ukernels.h),
// written once for AVX2 and AVX-512 over a traits type V (x86_vector.h's, plus kRegisters, the
// ISA's transpose of kLanes rows and store_row<N>: conv2d-outvec-avx2.h, -avx512.h).
//
// Tile: MR pixels x NV vectors of kLanes output channels, MR*NV accumulators (MR*NV + NV + 1
// <= kRegisters), started at the bias. Per tap: NV loads of the packed weights, MR broadcasts
// of the pixels' inputs and MR*NV FMAs (no im2col). A pixel's input is its own pointer plus
// the tap's offset, or, for tiles of pixels one stride apart in one output row (most of them),
// one pointer plus immediate displacements: twelve pointers do not fit the general-purpose
// registers beside the loop's (GCC kept three in vector registers, moved back every tap). 1
// thread, alternating runs: the AVX-512 12x16 and 12x32 rows 1.08-1.24x faster on 3x3 layers
// of 16 to 64 channels at stride 1 and 2 and on the 7x7 stride-2 RGB stem, AVX2's 12x8
// 1.0-1.15x. At the end each vector's pixels are transposed in registers, kLanes at a time, so
// each channel's outputs go out as one row.
#pragma once

#include <cstddef>

#include "pyprune/ukernels.h"
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

template <class V, int MR, int NV>
PP_INLINE void kernel(size_t k, const float* const* pixels, const ptrdiff_t* offsets, const float* w, float* output,
                      size_t output_stride, const pp_f32_minmax_params* params) {
  using T = typename V::T;
  constexpr int L = V::kLanes;
  static_assert(MR * NV + NV + 1 <= V::kRegisters, "tile exceeds the vector registers");
  T acc[MR][NV];
  pyprune::unroll<NV>([&](auto v) PP_INLINE_LAMBDA {
    const T bias = V::load(w + L * PP_CONST(v));
    pyprune::unroll<MR>([&](auto p) PP_INLINE_LAMBDA { acc[PP_CONST(p)][PP_CONST(v)] = bias; });
  });
  taps<V, MR, NV>(k, pixels, offsets, w + L * NV, acc);
  const T vmin = V::splat(&params->min), vmax = V::splat(&params->max);
  char* out = reinterpret_cast<char*>(output);
  pyprune::unroll<NV>([&](auto v) PP_INLINE_LAMBDA {
    pyprune::unroll<(MR + L - 1) / L>([&](auto q) PP_INLINE_LAMBDA {
      constexpr int first = L * PP_CONST(q), n = MR - first < L ? MR - first : L;
      T r[L];
      pyprune::unroll<L>([&](auto j) PP_INLINE_LAMBDA {
        constexpr int J = PP_CONST(j);
        if constexpr (J < n)
          r[J] = V::clamp(acc[first + J][PP_CONST(v)], vmin, vmax);
        else
          r[J] = V::zero();
      });
      V::transpose(r);
      pyprune::unroll<L>([&](auto c) PP_INLINE_LAMBDA {
        float* row = reinterpret_cast<float*>(out + (L * PP_CONST(v) + PP_CONST(c)) * output_stride);
        V::template store_row<n>(row + first, r[PP_CONST(c)]);
      });
    });
  });
}

}  // namespace pp_f32_conv2d_outvec_x86

// Defines the extern "C" microkernel `name` as kernel<traits, mr, nv>.
#define PP_F32_CONV2D_OUTVEC_X86_UKERNEL(name, traits, mr, nv)                                              \
  extern "C" void name(size_t k, const float* const* pixels, const ptrdiff_t* offsets, const float* packed_w, \
                       float* output, size_t output_stride, const pp_f32_minmax_params* params) {             \
    pp_f32_conv2d_outvec_x86::kernel<traits, mr, nv>(k, pixels, offsets, packed_w, output, output_stride, params); \
  }
