// NEON f32 SpMM microkernel template (sparse convolution, NCHW), shared by every
// f32-spmm-*-neon.cc file. Contract: ukernels.h.
//
// Same loop structure as spmm-avx2.h: tiles of MR pixels, then MR/2, ..., 4, 2, 1. NEON
// multiplies by a lane of a vector register (FMLA by element), so the weights of U
// consecutive non-zeros are loaded as whole vectors (U * ROWS = 4 or 8 floats: one or two
// loads for U non-zeros instead of one broadcast per weight): U = 4 non-zeros per step for
// single rows, 2 for blocks of 2, 1 for blocks of 4 and 8. Input rows are loaded 4 or 2
// vectors per instruction (LD1 multiple); the 32-pixel single-row tile has 8 accumulators,
// each with a chain of 4 dependent FMLAs per step.
// Without an activation (min = -inf, max = +inf) the clamp is the identity, NaN included, so it
// is skipped (kClamp = false): one test per call.
#pragma once

#include <arm_neon.h>

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "pyprune/ukernels.h"
#include "pyprune/unroll.h"
#include "spmm-tiles.h"

namespace pp_f32_spmm_neon {

using pyprune::unroll;

// 4 lanes of a q register.
struct Q {
  using V = float32x4_t;
  static constexpr size_t kLanes = 4;
  static V load(const float* p) { return vld1q_f32(p); }
  static void store(float* p, V v) { vst1q_f32(p, v); }
  static V splat(const float* p) { return vld1q_dup_f32(p); }
  template <int kLane>
  static V fma_lane(V acc, V x, float32x4_t w) { return vfmaq_laneq_f32(acc, x, w, kLane); }
  // FMAX / FMIN return NaN when either operand is NaN: NaN stays.
  static V clamp(V v, V lo, V hi) { return vminq_f32(vmaxq_f32(v, lo), hi); }
};

// 2 lanes (W = 2) or 1 lane (W = 1, duplicated in both) of a d register.
template <size_t W>
struct D {
  using V = float32x2_t;
  static constexpr size_t kLanes = W;
  static V load(const float* p) {
    if constexpr (W == 2) return vld1_f32(p);
    else return vld1_dup_f32(p);
  }
  static void store(float* p, V v) {
    if constexpr (W == 2) vst1_f32(p, v);
    else vst1_lane_f32(p, v, 0);
  }
  static V splat(const float* p) { return vld1_dup_f32(p); }
  template <int kLane>
  static V fma_lane(V acc, V x, float32x4_t w) { return vfma_laneq_f32(acc, x, w, kLane); }
  static V clamp(V v, V lo, V hi) { return vmin_f32(vmax_f32(v, lo), hi); }
};

template <size_t W>
using Vec = std::conditional_t<(W >= 4), Q, D<(W >= 4 ? 2 : W)>>;

// NV vectors of one input row.
template <class L, size_t NV>
PP_INLINE void load_row(const float* x, typename L::V (&xv)[NV]) {
  if constexpr (std::is_same_v<L, Q> && NV % 4 == 0) {
    unroll<NV / 4>([&](auto i) PP_INLINE_LAMBDA {
      constexpr size_t I = PP_CONST(i);
      const float32x4x4_t q = vld1q_f32_x4(x + 16 * I);
      xv[4 * I] = q.val[0], xv[4 * I + 1] = q.val[1], xv[4 * I + 2] = q.val[2], xv[4 * I + 3] = q.val[3];
    });
  } else if constexpr (std::is_same_v<L, Q> && NV == 2) {
    const float32x4x2_t q = vld1q_f32_x2(x);
    xv[0] = q.val[0], xv[1] = q.val[1];
  } else {
    unroll<NV>([&](auto v) PP_INLINE_LAMBDA { xv[PP_CONST(v)] = L::load(x + PP_CONST(v) * L::kLanes); });
  }
}

// One block of ROWS output rows x W pixels; advances w and offsets past the block (the
// contract of spmm-tiles.h).
template <bool kClamp>
struct Kernel {
  template <size_t ROWS, size_t W>
  static PP_INLINE void block(const char* input, const float*& w, const int32_t*& offsets, uint32_t nnz,
                              char* output, size_t output_stride, const pp_f32_minmax_params* params) {
    using L = Vec<W>;
    using V = typename L::V;
    constexpr size_t NV = W >= 4 ? W / 4 : 1;
    constexpr size_t U = ROWS >= 4 ? 1 : 4 / ROWS;              // non-zeros per step
    V acc[ROWS][NV];
    unroll<ROWS>([&](auto r) PP_INLINE_LAMBDA {
      const V bias = L::splat(w + PP_CONST(r));
      unroll<NV>([&](auto v) PP_INLINE_LAMBDA {
        acc[PP_CONST(r)][PP_CONST(v)] = bias;
      });
    });
    w += ROWS;
    // Non-zero s of a step, its weights in lanes (s * ROWS + r) of the step's weight vectors.
    auto multiply = [&](const float* x, const float32x4_t* wq, auto s) PP_INLINE_LAMBDA {
      V xv[NV];
      load_row<L, NV>(x, xv);
      unroll<ROWS>([&](auto r) PP_INLINE_LAMBDA {
        constexpr size_t lane = PP_CONST(s) * ROWS + PP_CONST(r);
        unroll<NV>([&](auto v) PP_INLINE_LAMBDA {
          V& a = acc[PP_CONST(r)][PP_CONST(v)];
          a = L::template fma_lane<lane % 4>(a, xv[PP_CONST(v)], wq[lane / 4]);
        });
      });
    };
    for (; nnz >= U; nnz -= U) {
      constexpr size_t kWeightVectors = (U * ROWS + 3) / 4;
      float32x4_t wq[kWeightVectors];
      unroll<kWeightVectors>([&](auto i) PP_INLINE_LAMBDA { wq[PP_CONST(i)] = vld1q_f32(w + 4 * PP_CONST(i)); });
      unroll<U>([&](auto s) PP_INLINE_LAMBDA {
        multiply(reinterpret_cast<const float*>(input + offsets[PP_CONST(s)]), wq, s);
      });
      offsets += U;
      w += U * ROWS;
    }
    // The last nnz % U non-zeros (U > 1 only for blocks of 1 and 2 rows), one at a time.
    for (; nnz != 0; nnz--) {
      float32x4_t wq[1];
      wq[0] = ROWS == 1 ? vld1q_dup_f32(w) : vcombine_f32(vld1_f32(w), vdup_n_f32(0.0f));
      multiply(reinterpret_cast<const float*>(input + *offsets), wq, pyprune::Int<0>{});
      offsets += 1;
      w += ROWS;
    }
    const V vmin = L::splat(&params->min), vmax = L::splat(&params->max);
    unroll<ROWS>([&](auto r) PP_INLINE_LAMBDA {
      float* out = reinterpret_cast<float*>(output + PP_CONST(r) * output_stride);
      unroll<NV>([&](auto v) PP_INLINE_LAMBDA {
        const V a = acc[PP_CONST(r)][PP_CONST(v)];
        L::store(out + PP_CONST(v) * L::kLanes, kClamp ? L::clamp(a, vmin, vmax) : a);
      });
    });
  }

};

}  // namespace pp_f32_spmm_neon

#define PP_F32_SPMM_NEON_UKERNEL(name, mr, nr)                                                 \
  extern "C" void name(size_t mc, size_t nc, const float* input, const float* weights,        \
                       const int32_t* offsets, const uint32_t* counts, float* output,         \
                       size_t output_stride, const pp_f32_minmax_params* params) {            \
    if (params->min == -__builtin_inff() && params->max == __builtin_inff())                 \
      pp_f32_spmm::spmm<pp_f32_spmm_neon::Kernel<false>, mr, nr>(                             \
          mc, nc, input, weights, offsets, counts, output, output_stride, params);            \
    else                                                                                      \
      pp_f32_spmm::spmm<pp_f32_spmm_neon::Kernel<true>, mr, nr>(                              \
          mc, nc, input, weights, offsets, counts, output, output_stride, params);            \
  }
