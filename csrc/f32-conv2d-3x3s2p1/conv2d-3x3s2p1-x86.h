// 3x3 stride-2 padding-1 f32 convolution of NCHW planes, x86 template over the
// vector ISA (the AVX-512 kernel's; include it only from files compiled for that ISA). Contract:
// ukernels.h.
//
// Tile: MR output channels x NV vectors of L output columns (L lanes per vector). Per output
// row, the 3 input rows of every input channel are read straight from the planes; rows above
// and below the plane read the zero row. Per tile, input row and tap j, a vector's L
// columns 2x + j - 1 are the even lanes of two loads at that column, picked by one permute;
// each of the tile's 3 x MR weights of that row is broadcast once for its NV vectors. Tiles touching column -1 or the right edge
// load under lane masks (outside lanes read as zero and are never touched), so nothing outside
// a row is read; the last tile stores under a mask, so exactly the output is written.
#pragma once

#include <algorithm>
#include <cstddef>

#include "pyprune/ukernels.h"
#include "pyprune/unroll.h"

namespace pp_f32_conv2d_3x3s2p1_x86 {

using pyprune::unroll;

// ISA: Vec, Mask, kLanes; lanes(lo, hi) (the mask of lanes lo <= i < hi), load(p),
// load(p, mask), even(a, b) (the even lanes of a then of b), set1, fma(a, b, c) = a * b + c,
// clamp(v, lo, hi), store(p, v), store(p, v, mask).
template <class ISA, int MR, int NV>
struct Kernel {
  using Vec = typename ISA::Vec;
  using Mask = typename ISA::Mask;
  static constexpr ptrdiff_t L = ISA::kLanes, kColumns = L * NV;

  size_t channels;
  ptrdiff_t height, width, out_width;
  const float* input;
  const float* packed_w;
  const float* zero;
  Vec vmin, vmax;

  // The 2 loads of tap j of vector v in a tile at column x0 (columns 2 x0 + 2 L v + j - 1 + {0, L}).
  static ptrdiff_t start(ptrdiff_t x0, int v, int j, int half) { return 2 * x0 + 2 * L * v + j - 1 + L * half; }

  // Whether a tile at x0 reads only inside the row: from column 2 x0 - 1 to 2 x0 + 2 kColumns.
  bool interior(ptrdiff_t x0) const { return x0 >= 1 && 2 * x0 + 2 * kColumns < width; }

  // acc = bias + the 9 C taps for columns x0 .. x0 + kColumns of one output row (in: its 3
  // input rows of channel 0, those of channel c step floats on). EDGE: loads under masks.
  template <bool EDGE>
  PP_INLINE void tile(const float* const (&in)[3], const ptrdiff_t (&step)[3], ptrdiff_t x0, Vec (&acc)[MR][NV]) const {
    Mask mask[NV][3][2];
    if constexpr (EDGE) {
      unroll<NV>([&](auto v) PP_INLINE_LAMBDA {
        unroll<3>([&](auto j) PP_INLINE_LAMBDA {
          unroll<2>([&](auto h) PP_INLINE_LAMBDA {
            const ptrdiff_t s = start(x0, PP_CONST(v), PP_CONST(j), PP_CONST(h));
            mask[PP_CONST(v)][PP_CONST(j)][PP_CONST(h)] = ISA::lanes(-s, width - s);
          });
        });
      });
    }
    unroll<MR>([&](auto m) PP_INLINE_LAMBDA {
      const Vec bias = ISA::set1(packed_w[PP_CONST(m)]);
      unroll<NV>([&](auto v) PP_INLINE_LAMBDA { acc[PP_CONST(m)][PP_CONST(v)] = bias; });
    });
    for (size_t r = 0; r < 3 * channels; r++) {
      const float* row = in[r % 3] + static_cast<ptrdiff_t>(r / 3) * step[r % 3];
      const float* w = packed_w + MR + 3 * MR * r;  // (channel, kernel row) r, taps 0..2
      unroll<3>([&](auto j) PP_INLINE_LAMBDA {
        constexpr int J = PP_CONST(j);
        Vec tap[NV];
        unroll<NV>([&](auto v) PP_INLINE_LAMBDA {
          constexpr int V = PP_CONST(v);
          const float* p = row + start(x0, V, J, 0);
          if constexpr (EDGE) {
            tap[V] = ISA::even(ISA::load(p, mask[V][J][0]), ISA::load(p + L, mask[V][J][1]));
          } else {
            tap[V] = ISA::even(ISA::load(p), ISA::load(p + L));
          }
        });
        unroll<MR>([&](auto m) PP_INLINE_LAMBDA {
          constexpr int M = PP_CONST(m);
          const Vec vw = ISA::set1(w[J * MR + M]);
          unroll<NV>([&](auto v) PP_INLINE_LAMBDA { acc[M][PP_CONST(v)] = ISA::fma(vw, tap[PP_CONST(v)], acc[M][PP_CONST(v)]); });
        });
      });
    }
  }

  // Columns x0 .. x0 + n (n <= kColumns) of rows m < mr.
  PP_INLINE void store(float* const (&out)[MR], size_t mr, ptrdiff_t x0, ptrdiff_t n, Vec (&acc)[MR][NV]) const {
    unroll<MR>([&](auto m) PP_INLINE_LAMBDA {
      constexpr int M = PP_CONST(m);
      if (static_cast<size_t>(M) >= mr) return;
      unroll<NV>([&](auto v) PP_INLINE_LAMBDA {
        constexpr int V = PP_CONST(v);
        const Vec y = ISA::clamp(acc[M][V], vmin, vmax);
        float* o = out[M] + x0 + L * V;
        if (n >= L * (V + 1)) {
          ISA::store(o, y);
        } else if (n > L * V) {
          ISA::store(o, y, ISA::lanes(0, n - L * V));
        }
      });
    });
  }

  template <int NVT>
  using Narrow = Kernel<ISA, MR, NVT>;

  void row(size_t y, size_t mr, float* output, size_t output_stride) const {
    const float* in[3];
    ptrdiff_t step[3];
    for (ptrdiff_t i = 0; i < 3; i++) {
      const ptrdiff_t r = 2 * static_cast<ptrdiff_t>(y) + i - 1;
      const bool inside = r >= 0 && r < height;
      in[i] = inside ? input + r * width : zero;
      step[i] = inside ? height * width : 0;
    }
    float* out[MR];
    for (size_t m = 0; m < MR; m++)
      out[m] = reinterpret_cast<float*>(reinterpret_cast<char*>(output) + std::min(m, mr - 1) * output_stride) +
               y * out_width;
    Vec acc[MR][NV];
    ptrdiff_t x0 = 0;
    for (; x0 + kColumns <= out_width; x0 += kColumns) {
      if (interior(x0)) {
        tile<false>(in, step, x0, acc);
      } else {
        tile<true>(in, step, x0, acc);
      }
      store(out, mr, x0, kColumns, acc);
    }
    const ptrdiff_t rest = out_width - x0;
    if (rest == 0) return;
    if constexpr (NV > 1) {
      if (rest <= L) {  // one vector's work, not NV
        const Narrow<1> narrow{channels, height, width, out_width, input, packed_w, zero, vmin, vmax};
        typename Narrow<1>::Vec one[MR][1];
        narrow.template tile<true>(in, step, x0, one);
        narrow.store(out, mr, x0, rest, one);
        return;
      }
    }
    tile<true>(in, step, x0, acc);
    store(out, mr, x0, rest, acc);
  }
};

template <class ISA, int MR, int NV>
void run(size_t mr, size_t channels, size_t first_row, size_t rows, size_t input_height, size_t input_width,
         const float* input, const float* packed_w, float* output, size_t output_stride, const float* zero,
         const pp_f32_minmax_params* params) {
  PP_ASSERT(mr >= 1 && mr <= static_cast<size_t>(MR) && channels != 0 && input_height != 0 && input_width != 0);
  const ptrdiff_t h = static_cast<ptrdiff_t>(input_height), w = static_cast<ptrdiff_t>(input_width);
  const Kernel<ISA, MR, NV> kernel{channels, h, w, (w - 1) / 2 + 1, input, packed_w, zero, ISA::set1(params->min),
                                   ISA::set1(params->max)};
  for (size_t y = first_row; y < first_row + rows; y++) kernel.row(y, mr, output, output_stride);
}

}  // namespace pp_f32_conv2d_3x3s2p1_x86
