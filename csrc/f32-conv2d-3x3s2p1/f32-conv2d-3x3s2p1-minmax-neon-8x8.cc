// 3x3 stride-2 padding-1 f32 convolution of NCHW planes + bias + min/max clamp, NEON, tiles of
// 8 output channels x 8 output columns (contract in ukernels.h).
//
// Design: per output row, the 3 input rows of every input channel are read straight from the
// planes (rows above and below point at the zero row, which stays put from channel to
// channel). Per tile and input row: the 24 weights of its 3 taps x 8 channels in two LD1, then
// per 4 columns two LD2 of 8 floats, at column 2x - 1 (taps 0 and 1) and 2x (tap 2), and 3 x 8
// FMLA by element into the 16 accumulators: 54 instructions per 192 MACs, no im2col buffer.
// The first tile's column -1 is zeroed by one AND per input row, the last column of an odd
// width likewise; the last tile runs one vector when at most 4 columns remain, and stores
// exactly. An RGB image's 9 input rows each keep a pointer; other channel counts (a group's)
// loop over the channels, stepping 3 row pointers from each to the next (one ADD each).
#include <arm_neon.h>

#include <algorithm>

#include "../f32-dwconv2d-chw/dwconv2d-chw-same-neon.h"
#include "pyprune/neon_vector.h"

namespace {

using pyprune::unroll;
using pyprune::dwconv2d_chw_neon::fma_lane;
using pyprune::dwconv2d_chw_same_neon::Clamp;
using pyprune::dwconv2d_chw_same_neon::keep;
using pyprune::dwconv2d_chw_same_neon::lanes_below;
using pyprune::dwconv2d_chw_same_neon::Pair;

constexpr int MR = 8;

// C: the input channels, or 0 for the call's (a loop over them).
template <Clamp CLAMP, int C>
struct Kernel {
  // Input row pointers of an output row: every channel's 3 when their count is known (each
  // stepped by its loads alone), else channel 0's 3, stepped to each next channel.
  static constexpr int kRows = C > 0 ? 3 * C : 3;

  size_t channels, height, width, out_width;
  const float* input;
  const float* packed_w;
  const float* zero;
  const pp_f32_minmax_params* params;
  uint32x4_t first, last;  // lanes inside the plane: tap 0 of the first vector, tap 2 of the last

  Kernel(size_t channels, size_t height, size_t width, const float* input, const float* packed_w, const float* zero,
         const pp_f32_minmax_params* params)
      : channels(channels), height(height), width(width), out_width((width - 1) / 2 + 1), input(input),
        packed_w(packed_w), zero(zero), params(params) {
    first = lanes_below(4) & ~lanes_below(1);
    const size_t m = out_width - 4 * ((out_width - 1) / 4);  // outputs of the last vector (1..4)
    last = lanes_below(m - (width & 1));
  }

  // The loops over a channel's taps are folds over member templates, not unroll() with lambdas:
  // GCC's front end slows down more than linearly with the number of lambdas it instantiates.

  // One input channel's taps into acc: its 3 rows r0, r1, r2 (each left 8 * VT floats on by its
  // loads; references to scalars, not an array's address, so they stay in registers) with its
  // 3 x 24 weights at pw (left past them).
  template <int VT, bool FIRST, bool LAST>
  PP_INLINE void channel(const float*& r0, const float*& r1, const float*& r2, const float*& pw,
                         float32x4_t (&acc)[MR][VT]) const {
    const intptr_t four = sizeof(float), on = 7 * sizeof(float);
    channel_row<FIRST, LAST>(r0, pw, acc, four, on, std::make_integer_sequence<int, VT>{});
    channel_row<FIRST, LAST>(r1, pw, acc, four, on, std::make_integer_sequence<int, VT>{});
    channel_row<FIRST, LAST>(r2, pw, acc, four, on, std::make_integer_sequence<int, VT>{});
  }
  // One input row: its 24 weights (3 taps x 8 channels), then every vector V of the tile.
  template <bool FIRST, bool LAST, int VT, int... V>
  PP_INLINE void channel_row(const float*& in, const float*& pw, float32x4_t (&acc)[MR][VT], intptr_t four,
                             intptr_t on, std::integer_sequence<int, V...>) const {
    register float32x4_t w0 __asm__("v24");
    register float32x4_t w1 __asm__("v25");
    register float32x4_t w2 __asm__("v26");
    register float32x4_t w3 __asm__("v27");
    register float32x4_t w4 __asm__("v28");
    register float32x4_t w5 __asm__("v29");
    __asm__ volatile("ld1 {v24.4s - v27.4s}, [%6], #64\n\t"
                     "ld1 {v28.4s - v29.4s}, [%6], #32"
                     : "=w"(w0), "=w"(w1), "=w"(w2), "=w"(w3), "=w"(w4), "=w"(w5), "+r"(pw));
    const float32x4_t w[6] = {w0, w1, w2, w3, w4, w5};
    (row_vector<FIRST, LAST, V>(in, w, acc, four, on, std::make_integer_sequence<int, MR>{}), ...);
  }
  template <bool FIRST, bool LAST, int V, int VT, int... M>
  PP_INLINE void row_vector(const float*& in, const float32x4_t (&w)[6], float32x4_t (&acc)[MR][VT], intptr_t four,
                            intptr_t on, std::integer_sequence<int, M...>) const {
    Pair<V % 2> x;
    x.load(in, four, on);
    if constexpr (FIRST && V == 0) x.left = keep(x.left, first);
    if constexpr (LAST && V == VT - 1) x.right = keep(x.right, last);
    // Tap j of the 8 channels: weights 8 j .. 8 j + 7, i.e. w[2 j], w[2 j + 1].
    (fma_taps<M>(acc[M][V], x, w), ...);
  }
  template <int M, class X>
  PP_INLINE static void fma_taps(float32x4_t& acc, const X& x, const float32x4_t (&w)[6]) {
    acc = fma_lane<M % 4>(acc, x.left, w[0 + M / 4]);
    acc = fma_lane<M % 4>(acc, x.center, w[2 + M / 4]);
    acc = fma_lane<M % 4>(acc, x.right, w[4 + M / 4]);
  }

  // acc[m][0..VT) for the 8 output channels, 4 * VT columns; `in` advance by 8 * VT floats.
  // Without C, channel c's row i is step[i] floats after in[i].
  template <int VT, bool FIRST, bool LAST>
  PP_INLINE void tile(const float* (&in)[kRows], const size_t (&step)[3], float32x4_t (&acc)[MR][VT]) const {
    const float* pw = packed_w;
    {
      const float32x4_t b0 = vld1q_f32(pw), b1 = vld1q_f32(pw + 4);
      unroll<VT>([&](auto v) PP_INLINE_LAMBDA {
        unroll<4>([&](auto m) PP_INLINE_LAMBDA {
          acc[PP_CONST(m)][v] = vdupq_laneq_f32(b0, PP_CONST(m));
          acc[PP_CONST(m) + 4][v] = vdupq_laneq_f32(b1, PP_CONST(m));
        });
      });
      pw += MR;
    }
    if constexpr (C > 0) {
      unroll<C>([&](auto c) PP_INLINE_LAMBDA {
        constexpr int R = 3 * PP_CONST(c);
        channel<VT, FIRST, LAST>(in[R], in[R + 1], in[R + 2], pw, acc);
      });
    } else {
      // The loads leave a row 8 VT floats on: the next channel's is step - 8 VT further.
      const float *r0 = in[0], *r1 = in[1], *r2 = in[2];
      const size_t skip0 = step[0] - 8 * VT, skip1 = step[1] - 8 * VT, skip2 = step[2] - 8 * VT;
      for (size_t c = 0; c < channels; c++) {
        channel<VT, FIRST, LAST>(r0, r1, r2, pw, acc);
        r0 += skip0;
        r1 += skip1;
        r2 += skip2;
      }
      unroll<3>([&](auto r) PP_INLINE_LAMBDA { in[PP_CONST(r)] += 8 * VT; });
    }
    if constexpr (CLAMP != Clamp::none) {
      const float32x4_t vmin = vld1q_dup_f32(&params->min);
      unroll<MR>([&](auto m) PP_INLINE_LAMBDA {
        unroll<VT>([&](auto v) PP_INLINE_LAMBDA { acc[m][v] = vmaxq_f32(acc[m][v], vmin); });
      });
      if constexpr (CLAMP == Clamp::both) {
        const float32x4_t vmax = vld1q_dup_f32(&params->max);
        unroll<MR>([&](auto m) PP_INLINE_LAMBDA {
          unroll<VT>([&](auto v) PP_INLINE_LAMBDA { acc[m][v] = vminq_f32(acc[m][v], vmax); });
        });
      }
    }
  }

  // n (1..4 * VT) columns of channels m < mr; out[m] advance by 4 * VT.
  template <int VT>
  PP_INLINE static void store(float* (&out)[MR], const float32x4_t (&acc)[MR][VT], size_t n) {
    // Rows mr..7 alias row mr - 1 and are stored first, so row mr - 1's own values land last.
    unroll<MR>([&](auto i) PP_INLINE_LAMBDA {
      constexpr int M = MR - 1 - PP_CONST(i);
      float* o = out[M];
      if (n == 4 * VT) {
        unroll<VT>([&](auto v) PP_INLINE_LAMBDA { vst1q_f32(o + 4 * v, acc[M][v]); });
      } else {
        unroll<VT - 1>([&](auto v) PP_INLINE_LAMBDA { vst1q_f32(o + 4 * v, acc[M][v]); });
        pp_neon::store_first(o + 4 * (VT - 1), acc[M][VT - 1], n - 4 * (VT - 1));
      }
      out[M] += 4 * VT;
    });
  }

  template <bool FIRST>
  PP_INLINE void last_tile(const float* (&in)[kRows], const size_t (&step)[3], float* (&out)[MR], size_t n) const {
    if (n > 4) {
      float32x4_t acc[MR][2];
      tile<2, FIRST, true>(in, step, acc);
      store<2>(out, acc, n);
    } else {
      float32x4_t acc[MR][1];
      tile<1, FIRST, true>(in, step, acc);
      store<1>(out, acc, n);
    }
  }

  void row(size_t y, size_t mr, float* output, size_t output_stride) const {
    const float* in[kRows];
    size_t step[3];
    unroll<3>([&](auto i) PP_INLINE_LAMBDA {
      const size_t r = 2 * y + PP_CONST(i) - 1;  // wraps to a huge value above the plane
      const bool inside = r < height;
      step[PP_CONST(i)] = inside ? height * width : 0;
      unroll<kRows / 3>([&](auto c) PP_INLINE_LAMBDA {
        in[3 * PP_CONST(c) + PP_CONST(i)] = (inside ? input + PP_CONST(c) * height * width + r * width : zero) - 1;
      });
    });
    float* out[MR];
    for (size_t m = 0; m < MR; m++) {
      out[m] = reinterpret_cast<float*>(reinterpret_cast<char*>(output) + std::min(m, mr - 1) * output_stride) +
               y * out_width;
    }
    if (out_width <= 8) {
      last_tile<true>(in, step, out, out_width);
      return;
    }
    float32x4_t acc[MR][2];
    tile<2, true, false>(in, step, acc);
    store<2>(out, acc, 8);
    size_t x = 8;
    for (; x + 8 < out_width; x += 8) {
      tile<2, false, false>(in, step, acc);
      store<2>(out, acc, 8);
    }
    last_tile<false>(in, step, out, out_width - x);
  }
};

template <Clamp CLAMP, int C>
void run(size_t mr, size_t channels, size_t first_row, size_t rows, size_t height, size_t width, const float* input,
         const float* packed_w, float* output, size_t output_stride, const float* zero,
         const pp_f32_minmax_params* params) {
  const Kernel<CLAMP, C> kernel(channels, height, width, input, packed_w, zero, params);
  for (size_t y = first_row; y < first_row + rows; y++) kernel.row(y, mr, output, output_stride);
}

// RGB images (3 channels) keep a pointer per input row: no stepping from channel to channel.
template <Clamp CLAMP>
void run(size_t mr, size_t channels, size_t first_row, size_t rows, size_t height, size_t width, const float* input,
         const float* packed_w, float* output, size_t output_stride, const float* zero,
         const pp_f32_minmax_params* params) {
  if (channels == 3) {
    run<CLAMP, 3>(mr, channels, first_row, rows, height, width, input, packed_w, output, output_stride, zero, params);
  } else {
    run<CLAMP, 0>(mr, channels, first_row, rows, height, width, input, packed_w, output, output_stride, zero, params);
  }
}

}  // namespace

extern "C" void pp_f32_conv2d_3x3s2p1_minmax_ukernel_8x8__neon(size_t mr, size_t channels, size_t first_row,
                                                               size_t rows, size_t input_height, size_t input_width,
                                                               const float* input, const float* packed_w,
                                                               float* output, size_t output_stride, const float* zero,
                                                               const pp_f32_minmax_params* params) {
  PP_ASSERT(mr >= 1 && mr <= MR && channels != 0 && input_height != 0 && input_width != 0);
  if (params->max == __builtin_inff()) {
    if (params->min == -__builtin_inff()) {
      run<Clamp::none>(mr, channels, first_row, rows, input_height, input_width, input, packed_w, output,
                       output_stride, zero, params);
    } else {
      run<Clamp::lower>(mr, channels, first_row, rows, input_height, input_width, input, packed_w, output,
                        output_stride, zero, params);
    }
  } else {
    run<Clamp::both>(mr, channels, first_row, rows, input_height, input_width, input, packed_w, output,
                     output_stride, zero, params);
  }
}
