// Template of the x86 (AVX2, AVX-512) f32 NCHW KxK depthwise microkernels with padding P = K / 2
// handled in the kernel (contract in ukernels.h, "same" padding): whole planes straight from
// the input, register-tiled as ROWS output rows x one vector of output columns. Each
// *-avx2-*.cc and *-avx512-*.cc instantiates it once with its vector type (Avx2, Avx512).
//
// Design (per tile):
//  - Rows: one pointer per input row the tile reads; rows above and below the plane point at
//    the zero row, so the top and bottom padding cost nothing per tile. Each input row's taps
//    are loaded once and fed by FMA to every output row whose window holds that row.
//  - Columns, stride 1: tap j of output columns x.. is one unaligned load at column x + j - P.
//  - Columns, stride 2: pairs of loads (two vectors) at columns 2x - P + 2m; an in-lane
//    shuffle of a pair takes its even floats (tap 2m, columns 2x - P + 2m + 2l) and odd ones
//    (tap 2m + 1): deinterleaved in registers, no copy. The shuffles put the outputs in an
//    order of their own, put back in column order by one permute per output row before the
//    store (Vec::columns).
//  - Edges: the first and the last column tile (for K > 3 also the one before the last, which
//    can reach past the row) load under lane masks of the columns inside the plane, so the
//    padding columns read as zeros: AVX-512 masked loads, which read nothing outside a row; on
//    AVX2 plain loads ANDed with the mask, which read at most PP_DWCONV2D_CHW_SAME_SLACK floats
//    around a row (kClear; VMASKMOVPS where they would reach further). The other tiles read
//    only inside the row, unmasked. The last tile stores only its columns: outputs are written
//    exactly.
//  - Tails: AVX-512's last tile runs in a ymm when 8 or fewer columns remain (half the work:
//    the 7- and 56-wide planes of 224x224 networks end in 7 and 8 columns).
//  - Rows: ROWS-row tiles, then one tile of the rows that remain.
//  - Small planes, AVX-512, 5x5 (the 7x7 and 14x14 maps of 224x224 networks): 16 channels at
//    a time, a channel per lane, instead (Blocked below).
//  - All channels of the call in one loop: the per-channel cost is its 1 + K * K broadcasts and
//    the row pointers.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "pyprune/ukernels.h"
#include "pyprune/unroll.h"
#include "pyprune/x86_vector.h"

namespace pp_dwconv2d_chw_same_x86 {

using pyprune::unroll;

// A vector type: one of x86_vector.h, plus Half (the vector type of half the lanes used for
// short tails, or void) and:
//   evens(a, b) / odds(a, b): the floats at even / odd positions of a then b, in the order of
//     an in-lane shuffle; columns(v) puts such a vector's lanes back in position order,
//   inside(first, width): the lanes k with 0 <= first + k < width,
//   half(v): the low half of v as a Half vector.
struct Avx2 : pp_x86::Avx2 {
  using Half = void;
  using pp_x86::Avx2::store;
  // Edge tiles load plainly and clear the lanes outside the plane, and the last tile stores in
  // pieces of 4, 2 and 1 floats: VMASKMOVPS is slow on AMD cores (Zen 3: MobileNets' 14x14 and
  // 7x7 layers ran 1.5x faster without it).
  static constexpr bool kClearEdges = true;
  static PP_INLINE T clear(T v, Mask m) { return _mm256_and_ps(v, _mm256_castsi256_ps(m)); }
  static PP_INLINE void store(float* p, T v, Mask m) {
    store_first(p, v, static_cast<size_t>(__builtin_popcount(static_cast<unsigned>(_mm256_movemask_ps(_mm256_castsi256_ps(m))))));
  }
  // [a0 a2 b0 b2 | a4 a6 b4 b6]: positions 0 2 8 10 4 6 12 14, so 64-bit pairs 0 2 1 3 of the
  // position order.
  static PP_INLINE T evens(T a, T b) { return _mm256_shuffle_ps(a, b, 0x88); }
  static PP_INLINE T odds(T a, T b) { return _mm256_shuffle_ps(a, b, 0xDD); }
  static PP_INLINE T columns(T v) {
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(v), 0xD8));
  }
  static PP_INLINE Mask inside(ptrdiff_t first, size_t width) {
    const __m256i column = _mm256_add_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                            _mm256_set1_epi32(static_cast<int32_t>(first)));
    return _mm256_and_si256(_mm256_cmpgt_epi32(column, _mm256_set1_epi32(-1)),
                            _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int32_t>(width)), column));
  }
};

template <int LANES>
PP_INLINE uint32_t lanes_inside(ptrdiff_t first, size_t width) {
  const ptrdiff_t lo = first < 0 ? -first : 0;
  const ptrdiff_t hi = static_cast<ptrdiff_t>(width) - first;
  const uint32_t all = (1u << LANES) - 1;
  const uint32_t below_hi = hi <= 0 ? 0 : hi >= LANES ? all : (1u << hi) - 1;
  return below_hi & ~((1u << (lo < LANES ? lo : LANES)) - 1);
}

#if defined(__AVX512F__)
// A ymm under AVX-512VL masks: the tail of Avx512.
struct Avx512Half : Avx2 {
  using Mask = __mmask8;
  static constexpr bool kClearEdges = false;  // masked loads are native
  static PP_INLINE T load(const float* p) { return _mm256_loadu_ps(p); }
  static PP_INLINE T load(const float* p, Mask m) { return _mm256_maskz_loadu_ps(m, p); }
  static PP_INLINE void store(float* p, T v) { _mm256_storeu_ps(p, v); }
  static PP_INLINE void store(float* p, T v, Mask m) { _mm256_mask_storeu_ps(p, m, v); }
  static PP_INLINE Mask inside(ptrdiff_t first, size_t width) {
    return static_cast<Mask>(lanes_inside<8>(first, width));
  }
};

struct Avx512 : pp_x86::Avx512 {
  using Half = Avx512Half;
  static constexpr bool kClearEdges = false;
  // Per 128-bit lane q: [a(4q) a(4q+2) b(4q) b(4q+2)], positions 2q, 2q + 1, 8 + 2q, 9 + 2q
  // (halved), so 64-bit pairs 0 2 4 6 1 3 5 7 of the position order.
  static PP_INLINE T evens(T a, T b) { return _mm512_shuffle_ps(a, b, 0x88); }
  static PP_INLINE T odds(T a, T b) { return _mm512_shuffle_ps(a, b, 0xDD); }
  static PP_INLINE T columns(T v) {
    const __m512i pairs = _mm512_setr_epi64(0, 2, 4, 6, 1, 3, 5, 7);
    return _mm512_castpd_ps(_mm512_permutexvar_pd(pairs, _mm512_castps_pd(v)));
  }
  static PP_INLINE Mask inside(ptrdiff_t first, size_t width) {
    return static_cast<Mask>(lanes_inside<16>(first, width));
  }
  static PP_INLINE Half::T half(T v) { return _mm512_castps512_ps256(v); }
};
#endif

template <class Vec>
constexpr bool kHasHalf = !std::is_void_v<typename Vec::Half>;

// Fewer channels than this in a call run a plane at a time, not in blocks of 16 (Blocked).
constexpr size_t kBlockedChannels = 8;

template <class Vec, int K, int S, int ROWS>
struct Kernel {
  static_assert(S == 1 || S == 2, "stride 1 or 2");
  static_assert(K % 2 == 1, "odd kernel size");
  static constexpr int P = K / 2;
  static constexpr int L = Vec::kLanes;
  template <int R>
  static constexpr int kInputRows = S * (R - 1) + K;
  // Loads per input row and tile, and their columns relative to S * x for a tile of `lanes`
  // columns at x: stride 1, tap j at j - P; stride 2, pair m (loads 2m, 2m + 1) at -P + 2m.
  static constexpr int kLoads = S == 1 ? K : 2 * (P + 1);
  static constexpr ptrdiff_t offset(int load, int lanes) {
    return S == 1 ? load - P : -P + (load & ~1) + (load & 1) * lanes;
  }
  // Whether the tile before the last can read past the row (see the design notes).
  static constexpr bool kMaskBeforeLast = P > 1;
  // How far past a row the last tile's loads reach (P before it at most): S * x_last <= width - 1.
  static constexpr ptrdiff_t kPast = offset(kLoads - 1, L) + L - 1;
  // Whether V's edge loads are plain loads with the outside lanes cleared: where V prefers it
  // and they stay within the slack the contract lets a kernel read around a row.
  template <class V>
  static constexpr bool kClear = V::kClearEdges && P <= PP_DWCONV2D_CHW_SAME_SLACK && kPast <= PP_DWCONV2D_CHW_SAME_SLACK;

  // The per-call state of one vector type: the masks of the loads of the first, the one
  // before the last and the last column tile, and of the last one's store.
  template <class V>
  struct Edges {
    typename V::Mask first[kLoads], before_last[kLoads], last[kLoads], store;
    Edges(size_t width, size_t x_last, size_t rest) {
      const ptrdiff_t x = static_cast<ptrdiff_t>(S * x_last);
      for (int n = 0; n < kLoads; n++) {
        first[n] = V::inside(offset(n, V::kLanes), width);
        before_last[n] = V::inside(x - S * L + offset(n, V::kLanes), width);
        last[n] = V::inside(x + offset(n, V::kLanes), width);
      }
      store = V::inside(0, rest);
    }
  };
  using HalfVec = std::conditional_t<kHasHalf<Vec>, typename Vec::Half, Vec>;

  size_t height, width, out_height, out_width;
  const float* zero;
  const pp_f32_minmax_params* params;
  size_t x_last;  // the last column tile
  Edges<Vec> edges;
  Edges<HalfVec> half_edges;
  bool half_tail;  // the last tile runs in a Half vector
  typename Vec::T w[1 + K * K];  // bias, then the K * K taps, broadcast

  PP_INLINE Kernel(size_t height, size_t width, const float* zero, const pp_f32_minmax_params* params)
      : height(height), width(width), out_height((height - 1) / S + 1), out_width((width - 1) / S + 1),
        zero(zero), params(params), x_last((out_width - 1) / L * L),
        edges(width, x_last, out_width - x_last), half_edges(width, x_last, out_width - x_last),
        half_tail(kHasHalf<Vec> && out_width - x_last <= L / 2) {}

  // The loops inside a tile are folds over member templates, not unroll() with lambdas: GCC's
  // front end slows down more than linearly with the number of lambdas it instantiates.

  // Input row I of the tile (`row`: at the tile's first column): its loads, its K taps, then
  // the FMAs into every output row that reads it.
  template <class V, int R, bool EDGE, int... I>
  PP_INLINE static void input_rows(typename V::T (&acc)[R], const float* const (&in)[kInputRows<R>], size_t x,
                                   const typename V::T (&wt)[1 + K * K], const typename V::Mask (&loads)[kLoads],
                                   std::integer_sequence<int, I...>) {
    (input_row<V, R, EDGE, I>(acc, in[I] + S * x, wt, loads), ...);
  }
  template <class V, int R, bool EDGE, int I>
  PP_INLINE static void input_row(typename V::T (&acc)[R], const float* row, const typename V::T (&wt)[1 + K * K],
                                  const typename V::Mask (&loads)[kLoads]) {
    typename V::T loaded[kLoads];
    load_row<V, EDGE>(loaded, row, loads, std::make_integer_sequence<int, kLoads>{});
    typename V::T tap[K];
    taps<V>(tap, loaded, std::make_integer_sequence<int, K>{});
    fma_rows<V, I>(acc, tap, wt, std::make_integer_sequence<int, R>{});
  }
  template <class V, bool EDGE, int... n>
  PP_INLINE static void load_row(typename V::T (&loaded)[kLoads], const float* row,
                                 const typename V::Mask (&loads)[kLoads], std::integer_sequence<int, n...>) {
    (load<V, EDGE, n>(loaded[n], row, loads), ...);
  }
  template <class V, bool EDGE, int n>
  PP_INLINE static void load(typename V::T& loaded, const float* row, const typename V::Mask (&loads)[kLoads]) {
    const float* p = row + offset(n, V::kLanes);
    if constexpr (EDGE && kClear<V>) {
      loaded = V::clear(V::load(p), loads[n]);
    } else if constexpr (EDGE) {
      loaded = V::load(p, loads[n]);
    } else {
      loaded = V::load(p);
    }
    // In a register: folded into each FMA that uses it, a load would run up to 3 times.
    __asm__("" : "+v"(loaded));
  }
  // Tap j of the row: load j (stride 1), or the even or odd floats of pair j / 2 (stride 2).
  template <class V, int... j>
  PP_INLINE static void taps(typename V::T (&tap)[K], const typename V::T (&loaded)[kLoads],
                             std::integer_sequence<int, j...>) {
    if constexpr (S == 1) {
      ((tap[j] = loaded[j]), ...);
    } else {
      ((tap[j] = j & 1 ? V::odds(loaded[j & ~1], loaded[(j & ~1) + 1]) : V::evens(loaded[j & ~1], loaded[(j & ~1) + 1])),
       ...);
    }
  }
  // Every output row r of the tile whose window holds input row I (kernel row I - S * r).
  template <class V, int I, int R, int... r>
  PP_INLINE static void fma_rows(typename V::T (&acc)[R], const typename V::T (&tap)[K],
                                 const typename V::T (&wt)[1 + K * K], std::integer_sequence<int, r...>) {
    (fma_row<V, I - S * r>(acc[r], tap, wt, std::make_integer_sequence<int, K>{}), ...);
  }
  template <class V, int KY, int... j>
  PP_INLINE static void fma_row(typename V::T& acc, const typename V::T (&tap)[K],
                                const typename V::T (&wt)[1 + K * K], std::integer_sequence<int, j...>) {
    if constexpr (KY >= 0 && KY < K) ((acc = V::fma(tap[j], wt[1 + KY * K + j], acc)), ...);
  }

  // One tile of R rows x one V vector at column x (in: the input rows at column 0). EDGE: the
  // loads under `loads`; LAST: the store under `store`.
  template <class V, int R, bool EDGE, bool LAST>
  PP_INLINE void tile(const float* const (&in)[kInputRows<R>], float* const (&out)[R], size_t x,
                      const typename V::T (&wt)[1 + K * K], const typename V::Mask (&loads)[kLoads],
                      typename V::Mask store) const {
    using T = typename V::T;
    T acc[R];
    unroll<R>([&](auto r) PP_INLINE_LAMBDA { acc[PP_CONST(r)] = wt[0]; });
    input_rows<V, R, EDGE>(acc, in, x, wt, loads, std::make_integer_sequence<int, kInputRows<R>>{});
    const T vmin = V::splat(&params->min), vmax = V::splat(&params->max);
    unroll<R>([&](auto r) PP_INLINE_LAMBDA {
      T v = V::clamp(acc[PP_CONST(r)], vmin, vmax);
      if constexpr (S == 2) v = V::columns(v);
      if constexpr (LAST) {
        V::store(out[PP_CONST(r)] + x, v, store);
      } else {
        V::store(out[PP_CONST(r)] + x, v);
      }
    });
  }

  // The last column tile (at x_last), also the first if x_last is 0.
  template <int R>
  PP_INLINE void last_tile(const float* const (&in)[kInputRows<R>], float* const (&out)[R]) const {
    if constexpr (kHasHalf<Vec>) {
      if (half_tail) {
        typename HalfVec::T wh[1 + K * K];
        unroll<1 + K * K>([&](auto t) PP_INLINE_LAMBDA { wh[PP_CONST(t)] = Vec::half(w[PP_CONST(t)]); });
        tile<HalfVec, R, true, true>(in, out, x_last, wh, half_edges.last, half_edges.store);
        return;
      }
    }
    tile<Vec, R, true, true>(in, out, x_last, w, edges.last, edges.store);
  }

  // Output rows [y, y + R) of one plane.
  template <int R>
  PP_INLINE void rows(const float* plane, float* output, size_t y) const {
    const float* in[kInputRows<R>];
    float* out[R];
    unroll<kInputRows<R>>([&](auto i) PP_INLINE_LAMBDA {
      const size_t row = S * y + PP_CONST(i) - P;  // wraps to a huge value above the plane
      in[PP_CONST(i)] = row < height ? plane + row * width : zero;
    });
    unroll<R>([&](auto r) PP_INLINE_LAMBDA { out[PP_CONST(r)] = output + (y + PP_CONST(r)) * out_width; });
    if (x_last != 0) {
      tile<Vec, R, true, false>(in, out, 0, w, edges.first, edges.store);
      const size_t unmasked_end = kMaskBeforeLast && x_last > L ? x_last - L : x_last;
      for (size_t x = L; x < unmasked_end; x += L) tile<Vec, R, false, false>(in, out, x, w, edges.first, edges.store);
      if (unmasked_end != x_last) tile<Vec, R, true, false>(in, out, unmasked_end, w, edges.before_last, edges.store);
    }
    last_tile<R>(in, out);
  }

  PP_INLINE void run(size_t channels, const float* input, const float* weights, float* output) {
    const size_t plane = height * width, out_plane = out_height * out_width;
    for (; channels != 0; channels--, input += plane, weights += 1 + K * K, output += out_plane) {
      unroll<1 + K * K>([&](auto t) PP_INLINE_LAMBDA { w[PP_CONST(t)] = Vec::splat(weights + PP_CONST(t)); });
      size_t y = 0;
      for (; y + ROWS <= out_height; y += ROWS) rows<ROWS>(input, output, y);
      unroll<ROWS>([&](auto r) PP_INLINE_LAMBDA {
        if constexpr (PP_CONST(r) > 0) {
          if (out_height - y == PP_CONST(r)) rows<PP_CONST(r)>(input, output, y);
        }
      });
    }
  }
};

#if defined(__AVX512F__)
// Small planes on AVX-512, 16 channels at a time, a channel per lane: a 7-column row fills 7 of
// a vector's 16 lanes, every tile of a 7x7 or 14x14 plane is an edge tile, and the masks and
// tails cost per tile. Each block of 16 channels is transposed into a zero-padded buffer of
// pixels of 16 channels (16x16 transposes of 16 pixels of the flattened planes, each pixel then
// stored at its padded place), every output pixel is its taps' FMAs on aligned whole vectors of
// that buffer, and the output pixels are transposed back into the planes. The layout costs two
// transposes per 16 pixels, about what 9 taps cost: run for 5x5 only (1 thread, Intel Xeon,
// the layers in their models, against a plane at a time: MobileNetV4's and EfficientNet-B0's
// 7x7 layers 1.75x faster, 5x5 stride 2 to 7x7 1.2-1.4x, 14x14 1.09x). 3x3 ran slower (14x14
// 0.4x, 7x7 0.84-1.19x) and 7x7 at 7x7 gained what it cost the layer after it (ConvNeXt).
template <int K, int S>
struct Blocked {
  static constexpr int P = K / 2;
  static constexpr int kTaps = K * K;
  static constexpr size_t kMaxInput = 256;   // input pixels
  static constexpr size_t kMaxPadded = 400;  // padded pixels the outputs read
  static constexpr size_t kMaxOutput = 196;
  static constexpr int kTile = 6;  // output pixels per tile: 6 accumulators beside the 25 taps' vectors

  static bool takes(size_t height, size_t width) {
    const size_t oh = (height - 1) / S + 1, ow = (width - 1) / S + 1;
    return height * width <= kMaxInput && ((oh - 1) * S + K) * ((ow - 1) * S + K) <= kMaxPadded &&
           oh * ow <= kMaxOutput;
  }

  size_t height, width, oh, ow, wp;
  const pp_f32_minmax_params* params;
  uint16_t place[kMaxInput];  // each input pixel's padded pixel (the spare one past them if no output reads it)
  alignas(64) float padded[(kMaxPadded + 1) * 16];
  alignas(64) float out[kMaxOutput * 16];

  Blocked(size_t height, size_t width, const pp_f32_minmax_params* params)
      : height(height), width(width), oh((height - 1) / S + 1), ow((width - 1) / S + 1), wp((ow - 1) * S + K),
        params(params) {
    const size_t hp = (oh - 1) * S + K;
    std::fill(padded, padded + hp * wp * 16, 0.0f);
    for (size_t y = 0; y < height; y++)
      for (size_t x = 0; x < width; x++)
        place[y * width + x] = static_cast<uint16_t>(y + P < hp && x + P < wp ? (y + P) * wp + x + P : hp * wp);
  }

  static PP_INLINE __mmask16 lanes(size_t n) { return pp_x86::Avx512::first_lanes(n); }

  // Output pixels [x, x + N) of output row y.
  template <int N>
  PP_INLINE void tile(size_t y, size_t x, const __m512 (&w)[kTaps], __m512 bias, __m512 vmin, __m512 vmax) {
    __m512 acc[N];
    pyprune::unroll<N>([&](auto t) PP_INLINE_LAMBDA { acc[PP_CONST(t)] = bias; });
    pyprune::unroll<K>([&](auto i) PP_INLINE_LAMBDA {
      const float* row = padded + ((y * S + PP_CONST(i)) * wp + x * S) * 16;
      pyprune::unroll<K>([&](auto j) PP_INLINE_LAMBDA {
        pyprune::unroll<N>([&](auto t) PP_INLINE_LAMBDA {
          constexpr int T = PP_CONST(t);
          acc[T] = _mm512_fmadd_ps(_mm512_load_ps(row + (T * S + PP_CONST(j)) * 16), w[PP_CONST(i) * K + PP_CONST(j)],
                                   acc[T]);
        });
      });
    });
    float* o = out + (y * ow + x) * 16;
    pyprune::unroll<N>([&](auto t) PP_INLINE_LAMBDA {
      _mm512_store_ps(o + 16 * PP_CONST(t), _mm512_min_ps(vmax, _mm512_max_ps(vmin, acc[PP_CONST(t)])));
    });
  }

  // Channels [0, n) (n <= 16) of the call from `input` (planes height * width apart).
  PP_INLINE void block(size_t n, const float* input, const float* weights, float* output) {
    __m512 r[16];
    // The weights, a vector per tap (lane c: channel c's), through transposes of 16 of them.
    alignas(64) float taps[((1 + kTaps + 15) / 16) * 256];
    for (size_t q = 0; q < 1 + kTaps; q += 16) {
      const __mmask16 m = lanes(std::min<size_t>(16, 1 + kTaps - q));
      pyprune::unroll<16>([&](auto c) PP_INLINE_LAMBDA {
        r[c] = c < n ? _mm512_maskz_loadu_ps(m, weights + c * (1 + kTaps) + q) : _mm512_setzero_ps();
      });
      pp_x86::Avx512::transpose(r);
      pyprune::unroll<16>([&](auto j) PP_INLINE_LAMBDA { _mm512_store_ps(taps + (q + j) * 16, r[j]); });
    }
    const size_t plane = height * width, out_plane = oh * ow;
    for (size_t p = 0; p < plane; p += 16) {
      const size_t m = std::min<size_t>(16, plane - p);
      pyprune::unroll<16>([&](auto c) PP_INLINE_LAMBDA {
        r[c] = c < n ? _mm512_maskz_loadu_ps(lanes(m), input + c * plane + p) : _mm512_setzero_ps();
      });
      pp_x86::Avx512::transpose(r);
      pyprune::unroll<16>([&](auto j) PP_INLINE_LAMBDA {
        if (j < m) _mm512_store_ps(padded + place[p + j] * 16, r[j]);
      });
    }
    __m512 w[kTaps];
    pyprune::unroll<kTaps>([&](auto t) PP_INLINE_LAMBDA { w[PP_CONST(t)] = _mm512_load_ps(taps + (1 + PP_CONST(t)) * 16); });
    const __m512 bias = _mm512_load_ps(taps), vmin = _mm512_set1_ps(params->min), vmax = _mm512_set1_ps(params->max);
    for (size_t y = 0; y < oh; y++) {
      size_t x = 0;
      for (; x + kTile <= ow; x += kTile) tile<kTile>(y, x, w, bias, vmin, vmax);
      pyprune::unroll<kTile - 1>([&](auto t) PP_INLINE_LAMBDA {
        if (ow - x == PP_CONST(t) + 1) tile<PP_CONST(t) + 1>(y, x, w, bias, vmin, vmax);
      });
    }
    for (size_t p = 0; p < out_plane; p += 16) {
      const size_t m = std::min<size_t>(16, out_plane - p);
      pyprune::unroll<16>([&](auto j) PP_INLINE_LAMBDA {
        r[j] = j < m ? _mm512_load_ps(out + (p + j) * 16) : _mm512_setzero_ps();
      });
      pp_x86::Avx512::transpose(r);
      pyprune::unroll<16>([&](auto c) PP_INLINE_LAMBDA {
        if (c < n) _mm512_mask_storeu_ps(output + c * out_plane + p, lanes(m), r[c]);
      });
    }
  }

  void run(size_t channels, const float* input, const float* weights, float* output) {
    const size_t plane = height * width, out_plane = oh * ow;
    for (size_t c = 0; c < channels; c += 16)
      block(std::min<size_t>(16, channels - c), input + c * plane, weights + c * (1 + kTaps), output + c * out_plane);
  }
};
#endif

// Runs the call on Blocked where Vec, the kernel, the planes and their count call for it.
template <class Vec, int K, int S>
PP_INLINE bool run_blocked(size_t channels, size_t height, size_t width, const float* input, const float* weights,
                           float* output, const pp_f32_minmax_params* params) {
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<Vec, Avx512> && K == 5) {
    if (channels < kBlockedChannels || !Blocked<K, S>::takes(height, width)) return false;
    Blocked<K, S>(height, width, params).run(channels, input, weights, output);
    return true;
  }
#endif
  (void)channels, (void)height, (void)width, (void)input, (void)weights, (void)output, (void)params;
  return false;
}

}  // namespace pp_dwconv2d_chw_same_x86

// Defines the extern "C" microkernel `name` as Kernel<vec, k, s, tile_rows> (vec: Avx2 or Avx512).
#define PP_DWCONV2D_CHW_SAME_X86_UKERNEL(name, vec, k, s, tile_rows)                                            \
  extern "C" __attribute__((flatten)) void name(size_t channels, size_t input_height, size_t input_width,      \
                                                const float* input, const float* weights, float* output,       \
                                                const float* zero, const pp_f32_minmax_params* params) {       \
    PP_ASSERT(input_height != 0 && input_width != 0);                                                          \
    if (pp_dwconv2d_chw_same_x86::run_blocked<pp_dwconv2d_chw_same_x86::vec, k, s>(                            \
            channels, input_height, input_width, input, weights, output, params))                             \
      return;                                                                                                  \
    pp_dwconv2d_chw_same_x86::Kernel<pp_dwconv2d_chw_same_x86::vec, k, s, tile_rows>(input_height, input_width, \
                                                                                     zero, params)             \
        .run(channels, input, weights, output);                                                                \
  }
