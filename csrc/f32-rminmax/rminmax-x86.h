// x86 f32 row extreme template (contract: ukernels.h), written once for AVX2 and AVX-512 (`S`,
// the ISA's traits in its .cc): U vectors side by side, each folded with vmaxps / vminps, which
// return their second operand when either is NaN, so a NaN would be lost in the next step: NaN is
// tracked apart, by an unordered self-comparison folded into a mask, and wins at the end. The
// last n % (U L) floats: whole vectors, then the row's last vector again (an extreme does not
// mind values seen twice); rows shorter than a vector go to the reference kernel. The lanes are
// folded by shuffles (S::max_lanes), not a chain of L - 1 scalar steps: a short row's main cost.
#pragma once

#include <cstddef>

#include "pyprune/ukernels.h"
#include "pyprune/unroll.h"

namespace pp_f32_rminmax_x86 {

template <class S, size_t U, bool kMax>
PP_INLINE float extreme(size_t n, const float* x) {
  using V = typename S::V;
  constexpr size_t L = S::kLanes;
  PP_ASSERT(n >= 1);
  if (n < L) return kMax ? pp_f32_rmax_ukernel__ref(n, x) : pp_f32_rmin_ukernel__ref(n, x);
  auto fold = [](V acc, V v) PP_INLINE_LAMBDA { return kMax ? S::max(acc, v) : S::min(acc, v); };
  const float* const last = x + n - L;
  V acc[U];
  typename S::M nan = S::unordered(S::load(x));
  pyprune::unroll<U>([&](auto i) PP_INLINE_LAMBDA { acc[PP_CONST(i)] = S::load(x); });
  for (; n >= U * L; n -= U * L, x += U * L) {
    pyprune::unroll<U>([&](auto i) PP_INLINE_LAMBDA {
      const V v = S::load(x + PP_CONST(i) * L);
      nan = S::either(nan, S::unordered(v));
      acc[PP_CONST(i)] = fold(acc[PP_CONST(i)], v);
    });
  }
  for (; n >= L; n -= L, x += L) {
    const V v = S::load(x);
    nan = S::either(nan, S::unordered(v));
    acc[0] = fold(acc[0], v);
  }
  if (n != 0) {
    const V v = S::load(last);
    nan = S::either(nan, S::unordered(v));
    acc[0] = fold(acc[0], v);
  }
  if (S::any(nan)) return __builtin_nanf("");
  pyprune::unroll<U - 1>([&](auto i) PP_INLINE_LAMBDA { acc[0] = fold(acc[0], acc[PP_CONST(i) + 1]); });
  return kMax ? S::max_lanes(acc[0]) : S::min_lanes(acc[0]);
}

}  // namespace pp_f32_rminmax_x86

// Defines the max and min kernels of an ISA with traits `S`, U vectors per iteration.
#define PP_F32_RMINMAX_UKERNELS(S, isa, U)                                                           \
  extern "C" float pp_f32_rmax_ukernel_x##U##__##isa(size_t n, const float* x) {                     \
    return pp_f32_rminmax_x86::extreme<S, U / S::kLanes, true>(n, x);                                 \
  }                                                                                                  \
  extern "C" float pp_f32_rmin_ukernel_x##U##__##isa(size_t n, const float* x) {                     \
    return pp_f32_rminmax_x86::extreme<S, U / S::kLanes, false>(n, x);                                \
  }
