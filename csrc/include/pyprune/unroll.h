// Compile-time loops for the register-tiled SIMD kernels.
#pragma once

#include <type_traits>
#include <utility>

#define PP_INLINE inline __attribute__((always_inline))
#define PP_INLINE_LAMBDA __attribute__((always_inline))
// The value of an unroll() index (an integral_constant), usable in constant expressions.
#define PP_CONST(i) std::decay_t<decltype(i)>::value
// Hides a pointer's value from the optimiser, so that a loop keeps each such pointer in its own
// register, advanced by post-indexed loads, rather than rewriting them as bases plus one shared
// index (an add per load).
#define PP_OPAQUE(p) __asm__("" : "+r"(p))

namespace pyprune {

template <int N>
using Int = std::integral_constant<int, N>;

template <class F, int... I>
PP_INLINE void unroll_impl(F&& f, std::integer_sequence<int, I...>) {
  (f(Int<I>{}), ...);
}

// f(Int<0>{}), ..., f(Int<N-1>{}): fully unrolled, the index usable as a constant.
template <int N, class F>
PP_INLINE void unroll(F&& f) {
  unroll_impl(f, std::make_integer_sequence<int, N>{});
}

}  // namespace pyprune
