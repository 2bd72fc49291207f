// Prototypes of every microkernel, generated from the operator lists (*.inc).
#pragma once

#include <cstddef>
#include <cstdint>

#include "pyprune/common.h"
#include "pyprune/params.h"

// The last column of every operator list (*.inc): the one kernel an ISA runs for a case
// (a kernel size and stride, a block size, ...) is PP_PRODUCTION; the other rows are variants,
// built, tested and benchmarked against it. tests/kernels/test_ukernel_tables.py checks that
// every case of every ISA has exactly one production row. A GEMM row may instead be
// PP_IN_ORDER: the kernel its ISA runs on in-order cores (Cortex-A53 class, pp_in_order_cores),
// a variant elsewhere; or PP_DEEP: the kernel its ISA runs on out-of-order cores for GEMMs of
// kPpDeepGemmDepth or more (dispatch.h).
#define PP_PRODUCTION true
#define PP_VARIANT false
#define PP_IN_ORDER 2
#define PP_DEEP 3

// ---- f32 depthwise conv2d, NCHW, one channel plane per call --------------------------------
//
// The input is a zero-padded strip of one channel plane, built by the driver
// (csrc/ops/dwconv2d.cc), so kernels compute a valid convolution with no border cases:
//  - stride 1: padded row r is at input + r * input_stride (bytes), padded column c at [c];
//  - stride 2: padded row r is stored as two rows, its even columns at row 2r and its odd
//    columns at row 2r + 1, so padded column c of row r is at row 2r + (c & 1), index c >> 1.
// output(y, x) = clamp(bias + sum_{i,j} w[i][j] * padded(stride * y + i, stride * x + j)).
// weights = [bias, w[0][0], w[0][1], ..., w[k-1][k-1]].
// Every row of the strip may be read up to PP_DWCONV2D_CHW_ROW_SLACK floats past the last
// column the output needs; outputs are written exactly (output_width floats per row).
#define PP_DWCONV2D_CHW_ROW_SLACK 16

typedef void (*pp_f32_dwconv2d_chw_ukernel_fn)(
    size_t output_height, size_t output_width, const float* input, const float* weights,
    float* output, size_t input_stride, size_t output_stride,
    const pp_f32_minmax_params* params);

#define PP_DWCONV2D_UKERNEL(isa, name, kernel_size, stride, tile_rows, tile_cols, production) \
  extern "C" void name(size_t output_height, size_t output_width, const float* input,     \
                       const float* weights, float* output, size_t input_stride,           \
                       size_t output_stride, const pp_f32_minmax_params* params);
#include "../../f32-dwconv2d-chw/f32-dwconv2d-chw.inc"
#undef PP_DWCONV2D_UKERNEL

// ---- f32 depthwise conv2d, NCHW, "same" padding in the kernel, whole planes per call -------
//
// `channels` whole planes read straight from the input, no padded copy: plane c is the
// input_height x input_width floats at input + c * H * W, its output the contiguous
// OH x OW floats at output + c * OH * OW, with padding p = kernel_size / 2 on every side:
//   OH = (H + 2p - k) / stride + 1, OW likewise,
//   output(c, y, x) = clamp(bias_c + sum_{i,j} w_c[i][j] * in(c, stride*y + i - p, stride*x + j - p)),
// in() zero outside the plane; weights = per channel [bias, w[0][0], ..., w[k-1][k-1]].
// `zero`: PP_DWCONV2D_CHW_SAME_SLACK + input_width + PP_DWCONV2D_CHW_SAME_SLACK zeros,
// the rows above and below a plane (zero points at the first of the middle input_width).
// Reads up to PP_DWCONV2D_CHW_SAME_SLACK floats before and after every row, plane or zero row
// (values there only reach outputs that are not written): inside the call's planes for all
// rows but the first plane's first and the last plane's last, so the caller provides that
// slack before input and after its last plane. Outputs are written exactly.
#define PP_DWCONV2D_CHW_SAME_SLACK 16

typedef void (*pp_f32_dwconv2d_chw_same_ukernel_fn)(
    size_t channels, size_t input_height, size_t input_width, const float* input, const float* weights,
    float* output, const float* zero, const pp_f32_minmax_params* params);

#define PP_DWCONV2D_SAME_UKERNEL(isa, name, kernel_size, stride, tile_rows, tile_cols, production, \
                                 max_width)                                                      \
  extern "C" void name(size_t channels, size_t input_height, size_t input_width, const float* input, \
                       const float* weights, float* output, const float* zero,                       \
                       const pp_f32_minmax_params* params);
#include "../../f32-dwconv2d-chw/f32-dwconv2d-chw-same.inc"
#undef PP_DWCONV2D_SAME_UKERNEL

// ---- f32 depthwise conv2d of any window, NCHW, output rows from tap pointers (dwconv2d-taps) ----
//
// For the windows no kernel above takes (dilated, rectangular, other strides, large kernels):
// the driver (csrc/ops/depthwise_taps.cc) lays a zero-padded plane out so that each tap's
// inputs for one output row are contiguous, and passes a pointer to tap t's input of output
// (0, 0). For r < rows and x < n, with t_j(r) = tap_rows[j] + r * row_step bytes:
//   y_r[x] = clamp(weights[0] + weights[1] * t_0(r)[x] + ... + weights[taps] * t_{taps-1}(r)[x]),
// the taps in order, each one multiply-add; y_r at y + r * y_stride bytes. rows, n, taps >= 1.
// Reads t_j(r)[0, n) and up to PP_DWCONV2D_TAPS_OVERREAD floats past it (values there reach no
// written output); writes exactly y_r[0, n).
#define PP_DWCONV2D_TAPS_OVERREAD 16

typedef void (*pp_f32_dwconv2d_taps_ukernel_fn)(size_t rows, size_t n, size_t taps, const float* const* tap_rows,
                                                size_t row_step, const float* weights, float* y, size_t y_stride,
                                                const pp_f32_minmax_params* params);

#define PP_DWCONV2D_TAPS_UKERNEL(isa, name, tile_rows, tile_cols, production)                              \
  extern "C" void name(size_t rows, size_t n, size_t taps, const float* const* tap_rows, size_t row_step, \
                       const float* weights, float* y, size_t y_stride, const pp_f32_minmax_params* params);
#include "../../f32-dwconv2d-taps/f32-dwconv2d-taps.inc"
#undef PP_DWCONV2D_TAPS_UKERNEL

// ---- f32 GEMM: the 1x1 convolution in NCHW, and KxK convolution after im2col ---------------
//
// c[m][n] = clamp(bias[m] + sum_{k < kc} w[m][k] * b[k][n])   for m < mr, n < nc.
// packed_w: one block of MR output channels as laid out by pp_pack_f32_gemm_weights: the MR
//   biases, then for each k the MR weights w[0..MR-1][k]; rows past the layer's last output
//   channel are zero-filled, so the block is always MR rows wide. 1 <= mr <= MR.
// b: kc rows (input channels) of at least nc floats, b_stride bytes apart. b may be the
//   caller's tensor: kernels read nothing outside [0, nc) of each row.
// c: mr rows (output channels), c_stride bytes apart; exactly nc floats written per row and
//   nothing else (rows mr..MR-1 are not touched).
// Any nc >= 1 and kc >= 1: kernels loop over NR-column blocks and handle the ragged tail.
// Every column is summed the same way wherever it falls (bias, then one fused multiply-add per k
// in k order): its value does not depend on nc or on its place in the call, so drivers may cut
// the pixels anywhere and results do not depend on the thread count.
typedef void (*pp_f32_gemm_ukernel_fn)(size_t mr, size_t nc, size_t kc, const float* b,
                                       size_t b_stride, const float* packed_w, float* c,
                                       size_t c_stride, const pp_f32_minmax_params* params);

#define PP_GEMM_UKERNEL(isa, name, mr, nr, production, strips)                               \
  extern "C" void name(size_t mr_, size_t nc, size_t kc, const float* b, size_t b_stride,   \
                       const float* packed_w, float* c, size_t c_stride,                    \
                       const pp_f32_minmax_params* params);
#include "../../f32-gemm/f32-gemm.inc"
#undef PP_GEMM_UKERNEL

// ---- f32 3x3 stride-2 convolution of NCHW planes, padding 1 in the kernel -------------------
//
// The first layer of most CNNs (RGB in), dense ones of few channels and a group of a grouped one
// without im2col: one block
// of MR output channels over C = `channels` input planes,
//   c[m][y][x] = clamp(bias[m] + sum_{ci < C, i, j} w[m][ci][i][j] * in(ci, 2y + i - 1, 2x + j - 1)),
// in() zero outside the planes, for output rows [first_row, first_row + rows) and every column
// x < OW = (W - 1) / 2 + 1; rows m < mr (1 <= mr <= MR) written, exactly, channel m's plane at
// output + m * output_stride bytes (row y at its y * OW). packed_w: the GEMM's block layout
// (pp_f32_gemm ukernels of the same MR, depth 9 C): MR biases, then per (ci, i, j) MR weights.
// input: the C planes of H x W floats, contiguous. zero: as for the "same"-padding depthwise
// kernels (PP_DWCONV2D_CHW_SAME_SLACK + W + slack zeros, pointing at the middle W), and the
// same reads around every row: the caller provides slack before the first plane and after the
// last.
typedef void (*pp_f32_conv2d_3x3s2p1_ukernel_fn)(size_t mr, size_t channels, size_t first_row, size_t rows,
                                                size_t input_height, size_t input_width, const float* input,
                                                const float* packed_w, float* output, size_t output_stride,
                                                const float* zero, const pp_f32_minmax_params* params);

#define PP_CONV2D_3X3S2P1_UKERNEL(isa, name, mr, nr, production, dense, grouped)                           \
  extern "C" void name(size_t mr_, size_t channels, size_t first_row, size_t rows, size_t input_height,    \
                       size_t input_width, const float* input, const float* packed_w, float* output,       \
                       size_t output_stride, const float* zero, const pp_f32_minmax_params* params);
#include "../../f32-conv2d-3x3s2p1/f32-conv2d-3x3s2p1.inc"
#undef PP_CONV2D_3X3S2P1_UKERNEL

// ---- f32 convolution with output channels across the vector lanes ---------------------------
//
// A grouped convolution's outputs without im2col: MR output pixels x NC output channels of one
// group per call, over k taps (input channel ci, kernel row i, column j of the group):
//   output[c][p] = clamp(bias[c] + sum_{t < k} w[t][c] * pixels[p][offsets[t]]),
// where pixels[p] points at pixel p's first input (its window's top-left in a zero-padded copy
// of the group's planes) and offsets[t] is tap t's distance from it in floats: any stride,
// dilation and kernel size. packed_w: NC biases, then per tap NC weights (the GEMM's block
// layout with MR := NC). Channel c's MR outputs are written as one row at output + c *
// output_stride bytes; all NC x MR are computed and written (pixel pointers may repeat).
typedef void (*pp_f32_conv2d_outvec_ukernel_fn)(size_t k, const float* const* pixels, const ptrdiff_t* offsets,
                                               const float* packed_w, float* output, size_t output_stride,
                                               const pp_f32_minmax_params* params);

#define PP_CONV2D_OUTVEC_UKERNEL(isa, name, mr, nc, production, speed)                                    \
  extern "C" void name(size_t k, const float* const* pixels, const ptrdiff_t* offsets, const float* packed_w, \
                       float* output, size_t output_stride, const pp_f32_minmax_params* params);
#include "../../f32-conv2d-outvec/f32-conv2d-outvec.inc"
#undef PP_CONV2D_OUTVEC_UKERNEL

// ---- f32 GEMV: matrix times one vector (linear layers at batch 1, 1x1 convolutions of a
// one-pixel plane such as squeeze-excitation) ---------------------------------------------------
//
// y[o] = clamp(bias[o] + sum_{k < kc} w[o][k] * x[k])   for o < n.
// packed_w: the ceil(n / NR) panels of NR outputs laid out by pyprune::FullyConnected
//   (fully_connected.h): per panel, its NR biases, then for each k the NR weights
//   w[o0 .. o0+NR)[k]; outputs past the layer's last are zero-filled, so every panel is NR wide.
//   (The layout of the GEMM's packed blocks, with NR for MR.)
// x: kc floats; y: n floats. Kernels read exactly x[0, kc) and the panels, and write exactly
// y[0, n). Any n >= 1 and kc >= 1; an output's value does not depend on n or on its panel's
// place in the call, so a driver may split the panels between calls (threads) freely.
typedef void (*pp_f32_gemv_ukernel_fn)(size_t n, size_t kc, const float* x, const float* packed_w, float* y,
                                       const pp_f32_minmax_params* params);

#define PP_GEMV_UKERNEL(isa, name, nr, production)                                           \
  extern "C" void name(size_t n, size_t kc, const float* x, const float* packed_w, float* y, \
                       const pp_f32_minmax_params* params);
#include "../../f32-gemv/f32-gemv.inc"
#undef PP_GEMV_UKERNEL

// ---- f32 SpMM: sparse weights x dense NCHW activations (sparse 1x1 and KxK convolution) ----
//
// out[n][p] = clamp(bias[n] + sum_j w[n][j] * input[offset_j / 4 + p])   for n < nc, p < mc.
// Output channels come in blocks (the layout of pyprune::SparseMatrix, csrc/ops/sparse_matrix.cc):
// while at least NR channels remain, a block of NR rows; then single rows (fewer than NR).
// weights: per block, its biases (one per row), then for each of the block's non-zero columns
//   one value per row. counts: non-zero columns per block. offsets: per non-zero column, the
//   byte offset of its input row from `input` (so the same offsets serve every pixel range).
// Reads input[offset / 4 + p] for p < mc only; writes exactly mc floats of each output
// channel, channel n at output + n * output_stride bytes.
typedef void (*pp_f32_spmm_ukernel_fn)(size_t mc, size_t nc, const float* input,
                                       const float* weights, const int32_t* offsets,
                                       const uint32_t* counts, float* output, size_t output_stride,
                                       const pp_f32_minmax_params* params);

#define PP_SPMM_UKERNEL(isa, name, mr, nr, production)                                       \
  extern "C" void name(size_t mc, size_t nc, const float* input, const float* weights,      \
                       const int32_t* offsets, const uint32_t* counts, float* output,       \
                       size_t output_stride, const pp_f32_minmax_params* params);
#include "../../f32-spmm/f32-spmm.inc"
#undef PP_SPMM_UKERNEL

// ---- f32 elementwise binary operations (add, sub, mul, div, maximum, minimum of the graph) --
//
// y[i] = clamp(a[i] op b[i]) for i < n (b[0] for every i when the kernel takes a scalar b),
// where rsub and rdiv swap the operands (b - a, b / a); max and min return NaN when either
// operand is NaN (as torch.maximum and torch.minimum do). n >= 1; reads and writes nothing past
// n; y may be a. Broadcasting is the driver's (csrc/graph/elementwise.cc): it reduces every
// shape pair to rows of these.
enum pp_vbinary_op {
  pp_vbinary_add, pp_vbinary_sub, pp_vbinary_rsub, pp_vbinary_mul, pp_vbinary_div, pp_vbinary_rdiv,
  pp_vbinary_max, pp_vbinary_min
};

typedef void (*pp_f32_vbinary_ukernel_fn)(size_t n, const float* a, const float* b, float* y,
                                          const pp_f32_minmax_params* params);

#define PP_VBINARY_UKERNEL(isa, name, op, scalar_b, tile, production)                        \
  extern "C" void name(size_t n, const float* a, const float* b, float* y,                  \
                       const pp_f32_minmax_params* params);
#include "../../f32-vbinary/f32-vbinary.inc"
#undef PP_VBINARY_UKERNEL

// ---- f32 row sums (global average pooling, reductions over trailing dims) ------------------
//
// y[r] = x[r][0] + ... + x[r][n - 1] for r < rows, row r at x + r * x_stride bytes. n >= 1,
// rows >= 1; reads nothing outside the rows. Rows are summed in lanes and the lanes added at the
// end: kernels differ in the last bits, each is deterministic.
typedef void (*pp_f32_rsum_ukernel_fn)(size_t n, size_t rows, const float* x, size_t x_stride, float* y);

#define PP_RSUM_UKERNEL(isa, name, channel_tile, production) \
  extern "C" void name(size_t n, size_t rows, const float* x, size_t x_stride, float* y);
#include "../../f32-rsum/f32-rsum.inc"
#undef PP_RSUM_UKERNEL

// ---- f32 row extremes (softmax's row maxima, max/min reductions) ----------------------------
//
// The maximum (op max) or minimum (op min) of x[0..n), n >= 1; NaN when some x[i] is NaN.
// Extremes are exact: every kernel returns the same value (NaN's payload aside).
typedef float (*pp_f32_rminmax_ukernel_fn)(size_t n, const float* x);

#define PP_RMINMAX_UKERNEL(isa, name, op, tile, production) extern "C" float name(size_t n, const float* x);
#include "../../f32-rminmax/f32-rminmax.inc"
#undef PP_RMINMAX_UKERNEL

// ---- f32 row pooling (max_pool2d, avg_pool2d: one output row from the window's input rows) ----
//
// With x_r the row at x + r * x_stride bytes (r < rows) and c_j(o) = x_0[o * stride + j - pad] op
// x_1[o * stride + j - pad] op ... op x_{rows-1}[o * stride + j - pad] (the window's column j, rows
// in order): y[o] = c_0(o) op c_1(o) op ... op c_{kernel-1}(o) for o < n, in that order, leaving
// out the columns before x (op: max, NaN propagating, or +; the sign of a zero sum whose window
// starts in the padding may differ between kernels). n >= 1, rows >= 1, pad <= kernel / 2.
// Reads x_r[0, (n - 1) * stride + kernel - pad) and up to PP_HPOOL_OVERREAD floats past it.
enum pp_hpool_op { pp_hpool_max, pp_hpool_sum };
#define PP_HPOOL_OVERREAD 0

typedef void (*pp_f32_hpool_ukernel_fn)(size_t n, size_t rows, size_t pad, const float* x, size_t x_stride,
                                        float* y);

#define PP_HPOOL_UKERNEL(isa, name, op, kernel, stride, production) \
  extern "C" void name(size_t n, size_t rows, size_t pad, const float* x, size_t x_stride, float* y);
#include "../../f32-hpool/f32-hpool.inc"
#undef PP_HPOOL_UKERNEL

// ---- f32 softmax exponentials (vexpsum) -------------------------------------------------
//
// y[i] = exp(x[i] - max) for i < n, the difference rounded to float32 first (as torch computes
// it), and returns the sum of the y[i]: summed in lanes, the lanes added at the end (kernels
// differ in the last bits, each is deterministic). n >= 1; results below 2^-126 may be flushed
// to zero; NaN gives NaN (so does -inf - -inf). Accuracy: f32-vexpsum.inc.
typedef float (*pp_f32_vexpsum_ukernel_fn)(size_t n, const float* x, float max, float* y);

#define PP_VEXPSUM_UKERNEL(isa, name, tile, production) \
  extern "C" float name(size_t n, const float* x, float max, float* y);
#include "../../f32-vunary/f32-vexpsum.inc"
#undef PP_VEXPSUM_UKERNEL

// ---- f32 math, elementwise (vmath) ---------------------------------------------------------
//
// y[i] = op(x[i]) for i < n (n >= 1). y may be x (in place); otherwise they must not overlap.
// Kernels read and write nothing outside [0, n). Accuracy: f32-vmath.inc.
enum pp_vmath_op { pp_vmath_exp, pp_vmath_expm1, pp_vmath_log, pp_vmath_log1p };

typedef void (*pp_f32_vmath_ukernel_fn)(size_t n, const float* x, float* y);

#define PP_VMATH_UKERNEL(isa, name, op, tile, production) extern "C" void name(size_t n, const float* x, float* y);
#include "../../f32-vunary/f32-vmath.inc"
#undef PP_VMATH_UKERNEL

// ---- f32 activations, elementwise (vunary) ------------------------------------------------
//
// y[i] = f(x[i]) for i < n (n >= 1), f one kind of pyprune::ActivationKind (activation.h) with
// its parameters. y may be x (in place); otherwise they must not overlap. Kernels read and
// write nothing outside [0, n). Each kernel's accuracy is stated in its list (f32-vunary.inc).
typedef void (*pp_f32_vunary_ukernel_fn)(size_t n, const float* x, float* y,
                                         const pp_f32_activation_params* params);

#define PP_VUNARY_UKERNEL(isa, name, kind, tile, production)                                 \
  extern "C" void name(size_t n, const float* x, float* y, const pp_f32_activation_params* params);
#include "../../f32-vunary/f32-vunary.inc"
#undef PP_VUNARY_UKERNEL

// ---- f32 Winograd F(m x m, 3 x 3): the transforms around a batched GEMM ---------------------
//
// A dense 3x3 stride-1 convolution computed by output tiles of m x m pixels (m = the row's
// `tile`), each from the alpha x alpha input patch at the same place (alpha = m + 2, so the
// patches of neighbouring tiles overlap by 2): Y = A^T [(G g G^T) * (B^T d B)] A with the
// matrices of pyprune/winograd.h. A transformed tile is alpha x alpha; its element (i, j) is
// position p = i * alpha + j. Both transforms take `tiles` tiles side by side in one row of
// tiles (tile t's patch and output start at column t * m) and store each position of the tiles
// as one row of `tiles` floats, the layout of the GEMM's b and c operands (ukernels.h, "f32
// GEMM"): the GEMM of position p multiplies the transformed weights by the rows of position p.
// Kernels work across tiles in groups of up to PP_WINOGRAD_TILE_GROUP.
#define PP_WINOGRAD_TILE_GROUP 8

// Input transform: V = B^T d B of every tile. Row r of the (zero-padded) input is at
// input + r * input_stride bytes; reads rows [0, alpha) and columns
// [0, pp_round_up(tiles, PP_WINOGRAD_TILE_GROUP) * m + alpha): the caller provides them all,
// though what lies past the last tile's patch does not affect the result. Writes position p of
// tile t to output[p * output_stride / 4 + t] for t < pp_round_up(tiles, PP_WINOGRAD_TILE_GROUP):
// the lanes past `tiles` get values of no use (whole vectors are stored; a masked store costs
// more than the transform on some cores), so the caller leaves room for them.
typedef void (*pp_f32_winograd_input_ukernel_fn)(size_t tiles, const float* input, size_t input_stride,
                                                 float* output, size_t output_stride);

// Output transform: y = clamp(A^T M A + bias + residual) of every tile. Reads position p of
// tile t at input[p * input_stride / 4 + t] for t < pp_round_up(tiles, PP_WINOGRAD_TILE_GROUP)
// (what the lanes past `tiles` hold does not matter). Writes rows [0, rows) (1 <= rows <= m) and
// columns [0, columns) ((tiles - 1) * m < columns <= tiles * m: the last tile may be cut) of
// the output, rows output_stride bytes apart, and nothing else. residual: nullptr, or a tensor
// laid out like the output (same stride), read at exactly the positions written.
typedef void (*pp_f32_winograd_output_ukernel_fn)(size_t tiles, size_t rows, size_t columns, const float* input,
                                                  size_t input_stride, float bias, const float* residual,
                                                  float* output, size_t output_stride,
                                                  const pp_f32_minmax_params* params);

#define PP_WINOGRAD_INPUT_UKERNEL(isa, name, tile, production)                                    \
  extern "C" void name(size_t tiles, const float* input, size_t input_stride, float* output, \
                       size_t output_stride);
#include "../../f32-winograd/f32-winograd-input.inc"
#undef PP_WINOGRAD_INPUT_UKERNEL

#define PP_WINOGRAD_OUTPUT_UKERNEL(isa, name, tile, production)                                     \
  extern "C" void name(size_t tiles, size_t rows, size_t columns, const float* input,           \
                       size_t input_stride, float bias, const float* residual, float* output,   \
                       size_t output_stride, const pp_f32_minmax_params* params);
#include "../../f32-winograd/f32-winograd-output.inc"
#undef PP_WINOGRAD_OUTPUT_UKERNEL

// ---- u8 canonical Huffman decoding ----------------------------------------------------------
//
// Decodes `streams` (1..PP_HUFFDEC_MAX_STREAMS) independent bitstreams with one code: stream s
// is input[s][0 .. input_bytes[s]) and holds exactly symbols[s] symbols, written to
// output[s][0 .. symbols[s]). Bits are read most-significant first; after the last symbol a
// stream may hold only the zero to seven bits that pad it to a whole byte. Kernels read and
// write nothing outside these ranges, whatever the input: corrupt input returns a status
// (the output is then unspecified). Streams are independent so that the fast variants can
// interleave them and keep several lookups in flight.
typedef pp_huffdec_status (*pp_u8_huffdec_ukernel_fn)(size_t streams, const size_t* symbols,
                                                      const uint8_t* const* input,
                                                      const size_t* input_bytes,
                                                      const pp_huffdec_table* table,
                                                      uint8_t* const* output);

#define PP_HUFFDEC_UKERNEL(isa, name, lut_bits, symbols_per_lookup, production)              \
  extern "C" pp_huffdec_status name(size_t streams, const size_t* symbols,                \
                                    const uint8_t* const* input, const size_t* input_bytes, \
                                    const pp_huffdec_table* table, uint8_t* const* output);
#include "../../u8-huffdec/u8-huffdec.inc"
#undef PP_HUFFDEC_UKERNEL
