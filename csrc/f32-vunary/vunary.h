// The activation microkernels' algorithms, written once for any SIMD width: `S` is an ISA's
// vector traits (f32-vunary-avx2.cc, f32-vunary-neon.cc). Contract: ukernels.h; accuracy:
// f32-vunary.inc. Coefficients are minimax fits (relative error) rounded to float32 one at a time,
// the rest refitted after each.
//
// exp(-h), h >= 0: n = round(-h / ln2) by the magic-bias trick (the rounded value's low bits
// are n + 127, shifted into an exponent they give s = 2^n), w = h + n ln2 in two FMA steps
// (Cody-Waite), exp(-w) = 1 - w P(w) on |w| <= ln2 / 2 (degree 6 overall), exp(-h) =
// s - (s w) P(w). Below 2^-126 (h > 87.34) the result is 0: n + 127 would leave the exponent.
//   sigmoid(x) = 1 / (1 + e) for x > 0, e / (1 + e) otherwise, e = exp(-|x|): no cancellation.
//   silu(x) = x sigmoid(x) with x folded into the numerator; gelu_tanh(x) = x sigmoid(2u), u
//   the tanh argument (1 + tanh(u) = 2 sigmoid(2u), no cancellation for x < 0).
//   expm1(-h) = s expm1(-w) + (s - 1), expm1(-w) = w (w Q(w) - 1): accurate near 0; h is capped at
//   20 (expm1(-h) is -1.0f from 17.33 on).
//   tanh(z) = -expm1(-2z) / (2 + expm1(-2z)): accurate near 0 where tanh(z) ~ z.
//   elu(x) = x for x > 0, alpha expm1(x) otherwise.
//   mish(x) = x tanh(softplus(x)) = x n (n + 2) / (n (n + 2) + 2), n = exp(x): with e = exp(-|x|),
//   x (e (e + 2)) / (e (e + 2) + 2) for x <= 0 and x (1 + 2e) / (1 + 2e + 2e^2) for x > 0 (n^2
//   divided out): every term positive, no overflow, no cancellation.
//   gelu(x) = x Phi(x). With t = |x|, c = Phi(-t) = exp(-t^2 / 2) M(t), M(t) = erfcx(t / sqrt 2) / 2
//   smooth and slowly varying: M(t) = s P(v - v0), s = 1 / (1 + t / 2), v = t s (degree 10).
//   t^2 / 2 = h + l exactly (FMA), so exp(-t^2 / 2) keeps full precision. gelu(x) = x c for
//   x <= 0 and x - x c otherwise (x c <= x / 2: no cancellation). t is capped at 14 (c = 0
//   beyond 13.2) and x c computed from x capped likewise, so +-inf give inf and -0.
// The math kernels (f32-vmath.inc):
//   exp(x) = exp(-h) for h = -x clamped to [-89, 104] (beyond, the result is inf or 0), 2^n
//   applied as two factors 2^n1 2^(n - n1), n1 = round(n / 2), each a normal float for n in
//   [-150, 128]: a subnormal result rounds once, one past FLT_MAX is inf.
//   expm1(x) = expm1(-h) above for x <= 10 (2^n - 1 exact for n <= 15), exp(x) - 1 beyond.
//   log(x): x = m 2^k, m in [sqrt(1/2), sqrt(2)) (subnormal x scaled by 2^23 first), f = m - 1
//   exactly, log1p(f) = 2 atanh(s) = f - f^2 / 2 + s (f^2 / 2 + R(s^2)), s = f / (2 + f),
//   R(z) = 2z / 3 + 2z^2 / 5 + 2z^3 / 7 + 2z^4 / 9 (|s| <= 0.172: the series' rest is below
//   2^-26 of the result), plus k ln2 in two parts (k times the high part exact).
//   log1p(x): the same at u = 1 + x, plus u's rounding error over u (Fast2Sum: x - (u - 1) for
//   x < 1, 1 - (u - x) from 1 on). expm1 and log1p are x itself where |x| < 2^-24.
// max_nan / min_nan keep a NaN input NaN; every path is checked with NaN and +-inf by the tests.
#pragma once

#include <cstddef>

#include "pyprune/ukernels.h"
#include "pyprune/unroll.h"

namespace pp_f32_vunary {

// exp(-h) (magic bias: 1.5 * 2^23 + 127)
constexpr float kMagic = 0x1.8000FEp23f;
constexpr float kMinusLog2e = -0x1.715476p+0f;
constexpr float kLn2Hi = 0x1.62E430p-1f;
constexpr float kLn2Lo = -0x1.05C610p-29f;
constexpr float kExpCutoff = 0x1.5D589Ep+6f;  // exp(-h) < 2^-126 beyond
// P(w) = 1 + w (p2 + w (p3 + w (p4 + w (p5 + w p6)))) ~ (1 - exp(-w)) / w
constexpr float kExpP2 = -0x1.fffffcp-2f, kExpP3 = 0x1.555492p-3f, kExpP4 = -0x1.5558acp-5f,
                kExpP5 = 0x1.12397cp-7f, kExpP6 = -0x1.6a5196p-10f;
// expm1(-h): Q(w) = q2 + w (q3 + ...) ~ (expm1(-w) + w) / w^2
constexpr float kExpm1Cap = 20.0f;
constexpr float kExpm1Q2 = 0x1.fffffep-2f, kExpm1Q3 = -0x1.5554b4p-3f, kExpm1Q4 = 0x1.5556f4p-5f,
                kExpm1Q5 = -0x1.122536p-7f, kExpm1Q6 = 0x1.6b99dep-10f;
// gelu_tanh: 2u = x (A + B x^2), A = 2 sqrt(2 / pi), B = 0.044715 A
constexpr float kGeluTanhA = 0x1.988454p+0f, kGeluTanhB = 0x1.2444f2p-4f;
// gelu: M(t) = s P(v - kGeluV0), P's coefficients from degree 0 up
constexpr float kGeluCap = 14.0f;
constexpr float kGeluV0 = 0x1.bd1268p-1f;
constexpr float kGeluM[11] = {0x1.6ea9c6p-2f,  -0x1.592542p-3f, 0x1.dad20ep-8f,  0x1.26319cp-6f,
                              0x1.bc146p-10f,  -0x1.4a3bb2p-9f, -0x1.349d76p-10f, 0x1.57c298p-14f,
                              0x1.42641p-12f,  0x1.14f49ep-14f, -0x1.1ed0e4p-15f};

constexpr float kMaxFloat = 0x1.fffffep+127f;
constexpr float kInf = __builtin_inff();
// exp(x): x clamped to [kExpMin, kExpMax], beyond which exp(x) rounds to 0 or inf anyway
constexpr float kExpMin = -104.0f, kExpMax = 89.0f;
constexpr float kExpm1Split = 10.0f;  // expm1(x) = exp(x) - 1 above
// log: sqrt(1/2)'s bits (split_log2), ln2 = kLogLn2Hi + kLogLn2Lo with 16 significant bits in
// the high part, R's coefficients
constexpr float kLogLn2Hi = 0x1.62e4p-1f, kLogLn2Lo = 0x1.7f7d1cp-20f;
constexpr float kLogR1 = 2.0f / 3.0f, kLogR2 = 2.0f / 5.0f, kLogR3 = 2.0f / 7.0f, kLogR4 = 2.0f / 9.0f;

template <class S>
struct Math {
  using V = typename S::V;

  static PP_INLINE V c(float v) { return S::splat(v); }

  // The exponentials' reduction of exp(-h): n = round(-h / ln2), nb = n + kMagic (its low bits
  // n + 127), w = h + n ln2 in [-ln2 / 2, ln2 / 2], exp(-h) = 2^n exp(-w).
  struct Reduced {
    V nb, n, w;
  };
  static PP_INLINE Reduced reduce(V h) {
    const V nb = S::fma(h, c(kMinusLog2e), c(kMagic));
    const V n = S::sub(nb, c(kMagic));
    const V w = S::fma(n, c(kLn2Hi), h);
    return {nb, n, S::fma(n, c(kLn2Lo), w)};
  }

  // P(w), exp(-w) = 1 - w P(w).
  static PP_INLINE V exp_p(V w) {
    V p = S::fma(c(kExpP6), w, c(kExpP5));
    p = S::fma(p, w, c(kExpP4));
    p = S::fma(p, w, c(kExpP3));
    p = S::fma(p, w, c(kExpP2));
    return S::fma(p, w, c(1.0f));
  }

  // exp(-(h + l)) for h >= 0 (l: a correction below ulp(h), when kLow), 0 where h > kExpCutoff.
  template <bool kLow = false>
  static PP_INLINE V exp_neg(V h, V l = V{}) {
    Reduced r = reduce(h);
    const V s = S::pow2(r.nb);
    if constexpr (kLow) r.w = S::add(r.w, l);
    const V e = S::fnma(S::mul(s, r.w), exp_p(r.w), s);
    return S::zero_where(S::gt(h, c(kExpCutoff)), e);
  }

  static PP_INLINE V exp(V x) {
    const Reduced r = reduce(S::neg(S::min_nan(c(kExpMax), S::max_nan(c(kExpMin), x))));
    const V p = S::fnma(r.w, exp_p(r.w), c(1.0f));
    const V n1b = S::fma(r.n, c(0.5f), c(kMagic));  // round(n / 2), biased
    const V n2b = S::add(S::sub(r.n, S::sub(n1b, c(kMagic))), c(kMagic));
    return S::mul(S::mul(p, S::pow2(n1b)), S::pow2(n2b));
  }

  static PP_INLINE V expm1(V x) {
    const V near = expm1_neg(S::neg(S::min_nan(c(kExpm1Split), x)));
    return identity_near_zero(x, S::select(S::gt(x, c(kExpm1Split)), S::sub(exp(x), c(1.0f)), near));
  }

  // x itself where |x| < 2^-24, y elsewhere: f(x) = x (1 + O(x)) rounds to x there (expm1,
  // log1p), and -0 stays -0.
  static PP_INLINE V identity_near_zero(V x, V y) { return S::select(S::gt(c(0x1p-24f), S::abs(x)), x, y); }

  // log1p(m - 1) + k ln2 + low for m in [sqrt(1/2), sqrt(2)): the terms small to large.
  static PP_INLINE V log_reduced(V m, V k, V low) {
    const V f = S::sub(m, c(1.0f));
    const V s = S::div(f, S::add(f, c(2.0f)));
    const V z = S::mul(s, s);
    V r = S::fma(c(kLogR4), z, c(kLogR3));
    r = S::fma(r, z, c(kLogR2));
    r = S::mul(S::fma(r, z, c(kLogR1)), z);
    const V hfsq = S::mul(S::mul(f, f), c(0.5f));
    const V y = S::fma(s, S::add(hfsq, r), S::fma(k, c(kLogLn2Lo), low));
    return S::fma(k, c(kLogLn2Hi), S::add(S::sub(y, hfsq), f));
  }

  // log's result y at u > 0 finite; u itself at +inf, -inf at 0, NaN below 0 or at NaN.
  static PP_INLINE V log_special(V u, V y) {
    const V at_most_zero = S::select(S::ge(u, c(0.0f)), c(-kInf), c(__builtin_nanf("")));
    return S::select(S::gt(u, c(0.0f)), S::select(S::ge(u, c(kInf)), u, y), at_most_zero);
  }

  static PP_INLINE V log(V x) {
    const auto tiny = S::gt(c(0x1p-126f), x);  // subnormal (0 and below: log_special)
    V k;
    const V m = S::split_log2(S::select(tiny, S::mul(x, c(0x1p23f)), x), k);
    return log_special(x, log_reduced(m, S::sub(k, S::select(tiny, c(23.0f), c(0.0f))), c(0.0f)));
  }

  static PP_INLINE V log1p(V x) {
    const V u = S::add(x, c(1.0f));
    V k;
    const V m = S::split_log2(u, k);
    const V error = S::select(S::ge(x, c(1.0f)), S::sub(c(1.0f), S::sub(u, x)), S::sub(x, S::sub(u, c(1.0f))));
    return identity_near_zero(x, log_special(u, log_reduced(m, k, S::div(error, u))));
  }

  // m * sigmoid(w), m and w of the same sign (m = x for silu).
  static PP_INLINE V times_sigmoid(V m, V w) {
    const V e = exp_neg(S::abs(w));
    // -inf * 0 would be NaN: the multiplier of e is bounded (e = 0 wherever that matters).
    const V num = S::select(S::gt(w, c(0.0f)), m, S::mul(S::max_nan(c(-kMaxFloat), m), e));
    return S::div(num, S::add(e, c(1.0f)));
  }

  static PP_INLINE V sigmoid(V x) {
    const V e = exp_neg(S::abs(x));
    return S::div(S::select(S::gt(x, c(0.0f)), c(1.0f), e), S::add(e, c(1.0f)));
  }

  static PP_INLINE V silu(V x) { return times_sigmoid(x, x); }

  static PP_INLINE V mish(V x) {
    const V e = exp_neg(S::abs(x));
    const V two_e = S::add(e, e);
    const V small = S::fma(e, e, two_e);              // e (e + 2)
    const V large = S::add(c(1.0f), two_e);           // 1 + 2e
    const auto positive = S::gt(x, c(0.0f));
    const V num = S::select(positive, large, small);
    const V den = S::select(positive, S::fma(two_e, e, large), S::add(small, c(2.0f)));
    // -inf * 0 would be NaN: x is bounded where the fraction can be 0 (its limit is -0).
    return S::div(S::mul(S::max_nan(c(-kMaxFloat), x), num), den);
  }

  static PP_INLINE V gelu_tanh(V x) {
    return times_sigmoid(x, S::mul(x, S::fma(S::mul(x, x), c(kGeluTanhB), c(kGeluTanhA))));
  }

  // expm1(-h) for h >= -10 (NaN stays NaN).
  static PP_INLINE V expm1_neg(V h) {
    const Reduced r = reduce(S::min_nan(c(kExpm1Cap), h));
    const V s = S::pow2(r.nb);
    const V w = r.w;
    V q = S::fma(c(kExpm1Q6), w, c(kExpm1Q5));
    q = S::fma(q, w, c(kExpm1Q4));
    q = S::fma(q, w, c(kExpm1Q3));
    q = S::fma(q, w, c(kExpm1Q2));
    const V p = S::fma(q, w, c(-1.0f));                         // expm1(-w) / w
    return S::fma(S::mul(s, w), p, S::sub(s, c(1.0f)));
  }

  static PP_INLINE V tanh(V x) {
    const V z = S::abs(x);
    const V em1 = expm1_neg(S::add(z, z));
    const V y = S::div(S::neg(em1), S::add(em1, c(2.0f)));
    return S::copysign(y, x);
  }

  static PP_INLINE V elu(V x, V alpha) {
    const V below = S::mul(alpha, expm1_neg(S::max_nan(c(0.0f), S::neg(x))));
    return S::select(S::gt(x, c(0.0f)), x, below);
  }

  static PP_INLINE V gelu(V x) {
    const V t = S::min_nan(c(kGeluCap), S::abs(x));
    const V xc = S::min_nan(c(kGeluCap), S::max_nan(c(-kGeluCap), x));
    const V th = S::mul(t, c(0.5f));
    const V h = S::mul(th, t);
    const V l = S::fma(th, t, S::neg(h));  // t^2 / 2 = h + l
    const V e = exp_neg<true>(h, l);
    const V s = S::div(c(1.0f), S::fma(t, c(0.5f), c(1.0f)));
    const V u = S::fma(t, s, c(-kGeluV0));
    V p = c(kGeluM[10]);
    pyprune::unroll<10>([&](auto i) PP_INLINE_LAMBDA { p = S::fma(p, u, c(kGeluM[9 - PP_CONST(i)])); });
    const V g = S::mul(S::mul(xc, S::mul(s, p)), e);  // x Phi(-|x|)
    return S::select(S::le(x, c(0.0f)), g, S::sub(x, g));
  }

  static PP_INLINE V hardsigmoid(V x) {
    const V r = S::min_nan(c(6.0f), S::max_nan(c(0.0f), S::add(x, c(3.0f))));
    return S::mul(r, c(1.0f / 6.0f));
  }

  // x * hardsigmoid(x); x is taken at -3 at least so that -inf * 0 does not make NaN.
  static PP_INLINE V hardswish(V x) { return S::mul(S::max_nan(c(-3.0f), x), hardsigmoid(x)); }
};

// y[i] = f(x[i]): U vectors per iteration, then one, then the last n % lanes elements.
template <class S, size_t U, class F>
PP_INLINE void map(size_t n, const float* x, float* y, F f) {
  PP_ASSERT(n >= 1);
  using V = typename S::V;
  constexpr size_t L = S::kLanes;
  for (; n >= U * L; n -= U * L) {
    V v[U];
    pyprune::unroll<U>([&](auto i) PP_INLINE_LAMBDA { v[PP_CONST(i)] = S::load(x + PP_CONST(i) * L); });
    pyprune::unroll<U>([&](auto i) PP_INLINE_LAMBDA { v[PP_CONST(i)] = f(v[PP_CONST(i)]); });
    pyprune::unroll<U>([&](auto i) PP_INLINE_LAMBDA { S::store(y + PP_CONST(i) * L, v[PP_CONST(i)]); });
    x += U * L;
    y += U * L;
  }
  for (; n >= L; n -= L) {
    S::store(y, f(S::load(x)));
    x += L;
    y += L;
  }
  if (n != 0) S::store_partial(y, n, f(S::load_partial(x, n)));
}

// y[i] = exp(x[i] - max) and their sum: U vectors per iteration, each with its own partial
// sums, added together, then lane by lane in order, then the last n % lanes in order.
template <class S, size_t U>
PP_INLINE float exp_sum(size_t n, const float* x, float max, float* y) {
  PP_ASSERT(n >= 1);
  using V = typename S::V;
  constexpr size_t L = S::kLanes;
  const V m = S::splat(max);
  auto e = [&](V v) PP_INLINE_LAMBDA { return Math<S>::exp_neg(S::sub(m, v)); };
  V acc[U];
  pyprune::unroll<U>([&](auto i) PP_INLINE_LAMBDA { acc[PP_CONST(i)] = S::splat(0.0f); });
  for (; n >= U * L; n -= U * L) {
    pyprune::unroll<U>([&](auto i) PP_INLINE_LAMBDA {
      const V v = e(S::load(x + PP_CONST(i) * L));
      S::store(y + PP_CONST(i) * L, v);
      acc[PP_CONST(i)] = S::add(acc[PP_CONST(i)], v);
    });
    x += U * L;
    y += U * L;
  }
  for (; n >= L; n -= L) {
    const V v = e(S::load(x));
    S::store(y, v);
    acc[0] = S::add(acc[0], v);
    x += L;
    y += L;
  }
  pyprune::unroll<U - 1>([&](auto i) PP_INLINE_LAMBDA { acc[0] = S::add(acc[0], acc[PP_CONST(i) + 1]); });
  // The last n < L exponentials join the lanes (zeros past them), which shuffles add
  // (S::sum_lanes): not a chain of L - 1 + n scalar adds, a short row's main cost.
  if (n != 0) {
    const V v = e(S::load_partial(x, n));
    S::store_partial(y, n, v);
    acc[0] = S::add(acc[0], S::first_lanes(n, v));
  }
  return S::sum_lanes(acc[0]);
}

}  // namespace pp_f32_vunary

// y = f(x) by Math<S>::f (f32-vmath.inc), U elements per iteration.
#define PP_F32_VMATH_UKERNEL(S, isa, U, f)                                                          \
  extern "C" void pp_f32_v##f##_ukernel_x##U##__##isa(size_t n, const float* x, float* y) {        \
    pp_f32_vunary::map<S, U / S::kLanes>(n, x, y, [](S::V v) PP_INLINE_LAMBDA { return M_##isa::f(v); }); \
  }

// Defines the eleven activation kernels of an ISA, its softmax exponential (exp_sum) and its math
// kernels (exp, expm1, log, log1p), the last two at UE: `S`
// its traits; U, UE and UG the elements of one iteration for the cheap kinds (clamp ...
// hardsigmoid), the exponential ones, and gelu (whose 22 constants need the registers that more
// vectors in flight would take).
#define PP_F32_VUNARY_UKERNELS(S, isa, U, UE, UG)                                                      \
  namespace {                                                                                         \
  using M_##isa = pp_f32_vunary::Math<S>;                                                              \
  }                                                                                                   \
  extern "C" void pp_f32_vclamp_ukernel_x##U##__##isa(size_t n, const float* x, float* y,             \
                                                     const pp_f32_activation_params* p) {             \
    const S::V lo = S::splat(p->min), hi = S::splat(p->max);                                          \
    pp_f32_vunary::map<S, U / S::kLanes>(n, x, y, [&](S::V v) PP_INLINE_LAMBDA {                      \
      return S::min_nan(hi, S::max_nan(lo, v));                                                       \
    });                                                                                               \
  }                                                                                                   \
  extern "C" void pp_f32_vlrelu_ukernel_x##U##__##isa(size_t n, const float* x, float* y,             \
                                                     const pp_f32_activation_params* p) {             \
    const S::V alpha = S::splat(p->alpha), zero = S::splat(0.0f);                                     \
    pp_f32_vunary::map<S, U / S::kLanes>(n, x, y, [&](S::V v) PP_INLINE_LAMBDA {                      \
      return S::select(S::ge(v, zero), v, S::mul(alpha, v));                                          \
    });                                                                                               \
  }                                                                                                   \
  extern "C" void pp_f32_vhardswish_ukernel_x##U##__##isa(size_t n, const float* x, float* y,         \
                                                         const pp_f32_activation_params*) {           \
    pp_f32_vunary::map<S, U / S::kLanes>(n, x, y, [](S::V v) PP_INLINE_LAMBDA { return M_##isa::hardswish(v); });                                 \
  }                                                                                                   \
  extern "C" void pp_f32_vhardsigmoid_ukernel_x##U##__##isa(size_t n, const float* x, float* y,       \
                                                           const pp_f32_activation_params*) {         \
    pp_f32_vunary::map<S, U / S::kLanes>(n, x, y, [](S::V v) PP_INLINE_LAMBDA { return M_##isa::hardsigmoid(v); });                               \
  }                                                                                                   \
  extern "C" void pp_f32_vsilu_ukernel_x##UE##__##isa(size_t n, const float* x, float* y,             \
                                                     const pp_f32_activation_params*) {               \
    pp_f32_vunary::map<S, UE / S::kLanes>(n, x, y, [](S::V v) PP_INLINE_LAMBDA { return M_##isa::silu(v); });                                     \
  }                                                                                                   \
  extern "C" void pp_f32_vsigmoid_ukernel_x##UE##__##isa(size_t n, const float* x, float* y,          \
                                                        const pp_f32_activation_params*) {            \
    pp_f32_vunary::map<S, UE / S::kLanes>(n, x, y, [](S::V v) PP_INLINE_LAMBDA { return M_##isa::sigmoid(v); });                                  \
  }                                                                                                   \
  extern "C" void pp_f32_vtanh_ukernel_x##UE##__##isa(size_t n, const float* x, float* y,             \
                                                     const pp_f32_activation_params*) {               \
    pp_f32_vunary::map<S, UE / S::kLanes>(n, x, y, [](S::V v) PP_INLINE_LAMBDA { return M_##isa::tanh(v); });                                     \
  }                                                                                                   \
  extern "C" void pp_f32_vgelu_ukernel_x##UG##__##isa(size_t n, const float* x, float* y,             \
                                                     const pp_f32_activation_params*) {               \
    pp_f32_vunary::map<S, UG / S::kLanes>(n, x, y, [](S::V v) PP_INLINE_LAMBDA { return M_##isa::gelu(v); });                                     \
  }                                                                                                   \
  extern "C" void pp_f32_vmish_ukernel_x##UE##__##isa(size_t n, const float* x, float* y,             \
                                                     const pp_f32_activation_params*) {               \
    pp_f32_vunary::map<S, UE / S::kLanes>(n, x, y, [](S::V v) PP_INLINE_LAMBDA { return M_##isa::mish(v); });                                     \
  }                                                                                                   \
  extern "C" void pp_f32_velu_ukernel_x##UE##__##isa(size_t n, const float* x, float* y,              \
                                                    const pp_f32_activation_params* p) {               \
    const S::V alpha = S::splat(p->alpha);                                                            \
    pp_f32_vunary::map<S, UE / S::kLanes>(n, x, y, [&](S::V v) PP_INLINE_LAMBDA { return M_##isa::elu(v, alpha); });                             \
  }                                                                                                   \
  extern "C" void pp_f32_vgelu_tanh_ukernel_x##UE##__##isa(size_t n, const float* x, float* y,        \
                                                          const pp_f32_activation_params*) {          \
    pp_f32_vunary::map<S, UE / S::kLanes>(n, x, y, [](S::V v) PP_INLINE_LAMBDA { return M_##isa::gelu_tanh(v); });                                \
  }                                                                                                   \
  extern "C" float pp_f32_vexpsum_ukernel_x##UE##__##isa(size_t n, const float* x, float max, float* y) { \
    return pp_f32_vunary::exp_sum<S, UE / S::kLanes>(n, x, max, y);                                     \
  }                                                                                                   \
  PP_F32_VMATH_UKERNEL(S, isa, UE, exp)                                                               \
  PP_F32_VMATH_UKERNEL(S, isa, UE, expm1)                                                             \
  PP_F32_VMATH_UKERNEL(S, isa, UE, log)                                                               \
  PP_F32_VMATH_UKERNEL(S, isa, UE, log1p)
