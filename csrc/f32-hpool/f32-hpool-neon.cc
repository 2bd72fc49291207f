// NEON f32 row pooling microkernels (contract: ukernels.h): blocks of four outputs, the rows
// combined first in the vectors loaded, then the taps. Each input is loaded once: a block's
// columns (stride 1: c[o .. o+4); stride 2: vld2q's evens c[2o + 2i] and odds) are loaded
// before the block before them is finished, whose taps past its own columns are these shifted
// in by vextq; two blocks a trip, each row's pointer post-indexed (3 rows at 3 s2: 26
// instructions per 8 outputs). The last 4-7 outputs read nothing past their windows: stride 2
// finishes the block loaded with the column after its evens (broadcast), stride 1 loads each
// tap's columns at successive offsets. The last 1-3 outputs are the last four again
// (overlapping, so the same values), or one by one in the same order when n < 4. Rows come as
// a compile-time count (1, 2, 3 or 5: the usual windows) or a loop. vmaxq propagates NaN.
// Outputs whose windows start in the padding come first: at 3 s2 with one column of padding
// (ResNet's max pool) as a block of four, the left taps shifted in from the odds; otherwise one
// by one.
#include <arm_neon.h>

#include "hpool.h"
#include "pyprune/unroll.h"

namespace {

template <pp_hpool_op Op>
PP_INLINE float32x4_t combine(float32x4_t acc, float32x4_t v) {
  if constexpr (Op == pp_hpool_max) return vmaxq_f32(acc, v);
  return vaddq_f32(acc, v);
}

// The window's rows: with a compile-time count R, a pointer per row (advanced in registers);
// otherwise (R = 0) `rows` rows at x_stride bytes apart.
template <size_t R>
struct Rows {
  const float* p[R];

  Rows(const float* x, size_t x_stride, size_t) {
    pyprune::unroll<static_cast<int>(R)>([&](auto r) PP_INLINE_LAMBDA { p[r] = pp_hpool_row(x, x_stride, r); });
  }
  const float* row(size_t r, size_t at) const { return p[r] + at; }
  PP_INLINE void advance(size_t floats) {
    pyprune::unroll<static_cast<int>(R)>([&](auto r) PP_INLINE_LAMBDA {
      p[r] += floats;
      PP_OPAQUE(p[r]);
    });
  }
  // f(r) for the rows after the first, in order.
  template <class F>
  PP_INLINE void rest(F&& f) const {
    pyprune::unroll<static_cast<int>(R) - 1>([&](auto r) PP_INLINE_LAMBDA { f(static_cast<size_t>(PP_CONST(r)) + 1); });
  }
};

template <>
struct Rows<0> {
  const float* x;
  size_t x_stride, rows;

  const float* row(size_t r, size_t at) const { return pp_hpool_row(x, x_stride, r) + at; }
  void advance(size_t floats) { x += floats; }
  template <class F>
  void rest(F&& f) const {
    for (size_t r = 1; r < rows; r++) f(r);
  }
};

// A block's columns combined over the rows: stride 1 c[o .. o+4) in v[0]; stride 2 the evens
// c[2o + 2i] in v[0] and the odds in v[1].
template <pp_hpool_op Op, size_t S, size_t R>
PP_INLINE float32x4x2_t columns(const Rows<R>& rows, size_t o) {
  auto load = [&](size_t r) PP_INLINE_LAMBDA {
    const float* p = rows.row(r, o * S);
    if constexpr (S == 1) return float32x4x2_t{{vld1q_f32(p), vdupq_n_f32(0.0f)}};
    return vld2q_f32(p);
  };
  float32x4x2_t acc = load(0);
  rows.rest([&](size_t r) PP_INLINE_LAMBDA {
    const float32x4x2_t v = load(r);
    acc.val[0] = combine<Op>(acc.val[0], v.val[0]);
    if constexpr (S == 2) acc.val[1] = combine<Op>(acc.val[1], v.val[1]);
  });
  return acc;
}

// Outputs o .. o+3 from their block's columns and the next block's (its first lanes only: the
// taps past the block).
template <pp_hpool_op Op, size_t K, size_t S>
PP_INLINE float32x4_t outputs(float32x4x2_t block, float32x4_t next) {
  if constexpr (S == 1) {
    static_assert(K >= 2 && K <= 5, "stride 1 takes 2 to 5 taps");
    float32x4_t acc = block.val[0];
    if constexpr (K > 1) acc = combine<Op>(acc, vextq_f32(block.val[0], next, 1));
    if constexpr (K > 2) acc = combine<Op>(acc, vextq_f32(block.val[0], next, 2));
    if constexpr (K > 3) acc = combine<Op>(acc, vextq_f32(block.val[0], next, 3));
    if constexpr (K > 4) acc = combine<Op>(acc, next);
    return acc;
  } else {
    static_assert(S == 2 && (K == 2 || K == 3), "stride 2 takes 2 or 3 taps");
    const float32x4_t acc = combine<Op>(block.val[0], block.val[1]);
    if constexpr (K == 2) return acc;
    return combine<Op>(acc, vextq_f32(block.val[0], next, 1));  // the evens one further on
  }
}

// Stride 2: the column after the evens of outputs o .. o+3 over the rows, in every lane (only
// a third tap reads it).
template <pp_hpool_op Op, size_t K, size_t R>
PP_INLINE float32x4_t after_evens(const Rows<R>& rows, size_t o) {
  if constexpr (K != 3) return vdupq_n_f32(0.0f);
  float32x4_t acc = vld1q_dup_f32(rows.row(0, 2 * o + 8));
  rows.rest([&](size_t r) PP_INLINE_LAMBDA { acc = combine<Op>(acc, vld1q_dup_f32(rows.row(r, 2 * o + 8))); });
  return acc;
}

// Outputs o .. o+3 reading only their windows: stride 1 each tap's columns over the rows,
// stride 2 the block's columns and the column after.
template <pp_hpool_op Op, size_t K, size_t S, size_t R>
PP_INLINE float32x4_t four(const Rows<R>& rows, size_t o) {
  if constexpr (S == 1) {
    float32x4_t acc = columns<Op, 1>(rows, o).val[0];
    pyprune::unroll<static_cast<int>(K) - 1>([&](auto j) PP_INLINE_LAMBDA {
      acc = combine<Op>(acc, columns<Op, 1>(rows, o + PP_CONST(j) + 1).val[0]);
    });
    return acc;
  } else {
    return outputs<Op, K, S>(columns<Op, S>(rows, o), after_evens<Op, K>(rows, o));
  }
}

// 3 s2 with a column of padding: outputs 0..3 from the centres c[2i] (evens) and right taps
// c[2i + 1] (odds) of columns 0..7, each left tap the odd before (the identity before column 0).
template <pp_hpool_op Op, size_t R>
PP_INLINE float32x4_t first_four(const Rows<R>& rows) {
  const float32x4x2_t block = columns<Op, 2>(rows, 0);
  const float32x4_t none = vdupq_n_f32(Op == pp_hpool_max ? -__builtin_inff() : 0.0f);
  return combine<Op>(combine<Op>(vextq_f32(none, block.val[1], 3), block.val[0]), block.val[1]);
}

template <pp_hpool_op Op, size_t K, size_t S, size_t R>
void pool(size_t n, size_t rows, size_t pad, const float* x, size_t x_stride, float* y) {
  if constexpr (K == 3 && S == 2) {
    if (pad == 1 && n >= 8) {
      vst1q_f32(y, first_four<Op>(Rows<R>{x, x_stride, rows}));
      n -= 4;
      y += 4;
      x += 7;  // the window of output 4
      pad = 0;
    }
  }
  const size_t edge = pp_hpool_left_edge<Op, K, S>(n, rows, pad, x, x_stride, y);
  if (edge == n) return;
  n -= edge;
  x += edge * S - pad;
  y += edge;
  const Rows<R> window{x, x_stride, rows};
  size_t o = 0;
  if (n >= 8) {
    Rows<R> at = window;  // at the columns to load next
    float* out = y;
    float32x4x2_t block = columns<Op, S>(at, 0);
    at.advance(4 * S);
    // Stores the outputs of `done` and loads the next block into `next`.
    auto step = [&](const float32x4x2_t& done, float32x4x2_t& next) PP_INLINE_LAMBDA {
      next = columns<Op, S>(at, 0);
      at.advance(4 * S);
      vst1q_f32(out, outputs<Op, K, S>(done, next.val[0]));
      out += 4;
    };
    // Two blocks a trip, the carried block alternating between two variables (no copies).
    float32x4x2_t other;
    size_t blocks = (n - 4) / 4;
    for (; blocks >= 2; blocks -= 2) {
      step(block, other);
      step(other, block);
    }
    if (blocks != 0) {
      step(block, other);
      block = other;
    }
    o = static_cast<size_t>(out - y);
    // The block at o is loaded: stride 2 needs only the column after its evens to finish it.
    if constexpr (S == 2) {
      vst1q_f32(out, outputs<Op, K, S>(block, after_evens<Op, K>(window, o)));
      o += 4;
    }
  }
  for (; o + 4 <= n; o += 4) vst1q_f32(y + o, four<Op, K, S>(window, o));
  if (o < n && n >= 4) {
    vst1q_f32(y + n - 4, four<Op, K, S>(window, n - 4));
  } else {
    for (; o < n; o++) y[o] = pp_hpool_output<Op, K, S>(rows, x, x_stride, o);
  }
}

template <pp_hpool_op Op, size_t K, size_t S>
void hpool_neon(size_t n, size_t rows, size_t pad, const float* x, size_t x_stride, float* y) {
  PP_ASSERT(n >= 1 && rows >= 1 && pad <= K / 2);
  switch (rows) {
    case 1: return pool<Op, K, S, 1>(n, rows, pad, x, x_stride, y);
    case 2: return pool<Op, K, S, 2>(n, rows, pad, x, x_stride, y);
    case 3: return pool<Op, K, S, 3>(n, rows, pad, x, x_stride, y);
    case 5: return pool<Op, K, S, 5>(n, rows, pad, x, x_stride, y);
    default: return pool<Op, K, S, 0>(n, rows, pad, x, x_stride, y);
  }
}

}  // namespace

PP_HPOOL_DEFINE(pp_f32_hpool_max_ukernel_3s2__neon, hpool_neon, max, 3, 2)
PP_HPOOL_DEFINE(pp_f32_hpool_max_ukernel_3s1__neon, hpool_neon, max, 3, 1)
PP_HPOOL_DEFINE(pp_f32_hpool_max_ukernel_5s1__neon, hpool_neon, max, 5, 1)
PP_HPOOL_DEFINE(pp_f32_hpool_max_ukernel_2s2__neon, hpool_neon, max, 2, 2)
PP_HPOOL_DEFINE(pp_f32_hpool_max_ukernel_2s1__neon, hpool_neon, max, 2, 1)
PP_HPOOL_DEFINE(pp_f32_hpool_sum_ukernel_3s2__neon, hpool_neon, sum, 3, 2)
PP_HPOOL_DEFINE(pp_f32_hpool_sum_ukernel_3s1__neon, hpool_neon, sum, 3, 1)
PP_HPOOL_DEFINE(pp_f32_hpool_sum_ukernel_5s1__neon, hpool_neon, sum, 5, 1)
PP_HPOOL_DEFINE(pp_f32_hpool_sum_ukernel_2s2__neon, hpool_neon, sum, 2, 2)
PP_HPOOL_DEFINE(pp_f32_hpool_sum_ukernel_2s1__neon, hpool_neon, sum, 2, 1)
