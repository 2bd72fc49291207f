// Operator drivers: loops over batch and channels, padding, threading. Python-free.
#pragma once

#include <cstddef>
#include <cstdint>

#include "pyprune/dispatch.h"

namespace pyprune {

struct DepthwiseConv2dShape {
  size_t batch, channels, input_height, input_width;
  int kernel_size, stride, padding;
  size_t output_height() const { return (input_height + 2 * padding - kernel_size) / stride + 1; }
  size_t output_width() const { return (input_width + 2 * padding - kernel_size) / stride + 1; }
};

// NCHW depthwise convolution with contiguous input [N, C, H, W], weight [C, k, k],
// optional bias [C] (nullptr = zeros) and output [N, C, OH, OW]; the caller has checked the
// shapes. `ukernel` selects the microkernel (normally pp_f32_dwconv2d_chw_config()).
void depthwise_conv2d_nchw(const DepthwiseConv2dShape& shape, const float* input,
                           const float* weight, const float* bias, float* output,
                           const pp_f32_minmax_params& params,
                           const pp_f32_dwconv2d_chw_ukernel& ukernel);

// Output rows [first_row, first_row + rows) of one channel plane of `s` (input plane
// [H, W]; weights = bias then k * k taps) into `output`, rows output_stride bytes apart.
// For operators that consume a depthwise result strip by strip.
void depthwise_conv2d_rows(const DepthwiseConv2dShape& s, const pp_f32_dwconv2d_chw_ukernel& ukernel,
                           const float* plane, const float* weights, size_t first_row, size_t rows,
                           float* output, size_t output_stride, const pp_f32_minmax_params& params);

struct Conv2dShape {
  size_t batch, in_channels, out_channels, input_height, input_width;
  size_t kernel_size, stride, padding, groups;
  size_t output_height() const { return (input_height + 2 * padding - kernel_size) / stride + 1; }
  size_t output_width() const { return (input_width + 2 * padding - kernel_size) / stride + 1; }
  // GEMM depth per group: input channels of one group times the kernel's taps.
  size_t depth() const { return in_channels / groups * kernel_size * kernel_size; }
};

// Floats of the packed weights of a convolution for a GEMM kernel with this mr: per group,
// ceil(out channels per group / mr) blocks of mr biases and depth() x mr weights.
size_t conv2d_packed_weights_size(const Conv2dShape& shape, size_t mr);
// Packs weight [Cout, Cin / groups, k, k] and bias [Cout] (nullptr = zeros), see ukernels.h.
void pack_conv2d_weights(const Conv2dShape& shape, size_t mr, const float* weight,
                         const float* bias, float* packed);

// NCHW convolution, dense or grouped, any square kernel, through the GEMM kernel: 1x1
// stride-1 convolutions read the input directly, others through an im2col panel that stays
// in cache. `packed` comes from pack_conv2d_weights with ukernel.mr.
void conv2d_nchw(const Conv2dShape& shape, const float* input, const float* packed, float* output,
                 const pp_f32_minmax_params& params, const pp_f32_gemm_ukernel& ukernel);

// Fused depthwise-separable block: depthwise (shape `dw`, weight [C, k, k], bias [C] or
// nullptr) -> clamp dw_params -> pointwise (packed by pack_conv2d_weights for C inputs,
// out_channels outputs, gemm.mr) -> clamp pw_params, into output [N, out_channels, OH, OW].
// Works strip by strip of output rows so the depthwise result stays in cache.
void separable_conv2d_nchw(const DepthwiseConv2dShape& dw, const float* input,
                           const float* dw_weight, const float* dw_bias,
                           const pp_f32_minmax_params& dw_params,
                           const pp_f32_dwconv2d_chw_ukernel& dw_ukernel, size_t out_channels,
                           const float* pw_packed, const pp_f32_minmax_params& pw_params,
                           const pp_f32_gemm_ukernel& gemm, float* output);

// ---- Huffman-coded weights (Deep Compression) -----------------------------------------------
//
// A block is a Huffman-coded run of n symbols:
//   byte 0                 S, the number of streams (1..PP_HUFFDEC_MAX_STREAMS)
//   bytes 1 .. 4S          the byte size of each stream, uint32 little-endian
//   then the S streams, back to back, filling the rest of the block exactly.
// Stream s holds symbols [s q, min(n, (s + 1) q)) with q = ceil(n / S).
struct HuffmanBlock {
  const uint8_t* data;
  size_t bytes;
  size_t symbols;
  const uint8_t* lengths;  // code length per symbol (params.h)
  size_t alphabet;
};

// The block's symbols into out[0 .. block.symbols).
pp_huffdec_status huffman_decode(const HuffmanBlock& block, const pp_u8_huffdec_ukernel& ukernel,
                                 uint8_t* out);

// A weight-shared layer: weight = codebook[value symbol]. Dense (gaps == nullptr): one value per
// weight, in order. Sparse: gap symbols place the values; with M = 2^index_bits - 1, a gap g < M
// skips g zeros then places the next value, g == M skips M zeros and places nothing (a filler).
struct SharedWeights {
  HuffmanBlock values;
  const HuffmanBlock* gaps;
  unsigned index_bits;
  const float* codebook;
  size_t codebook_size;
  size_t size;  // weights in the layer
};

// Decodes into weight[0 .. w.size) (zeros where no value lands).
pp_huffdec_status decode_shared_weights(const SharedWeights& w, const pp_u8_huffdec_ukernel& ukernel,
                                        float* weight);

// Sparse layers only: the non-zeros' flat positions (ascending) and values, values.symbols of each.
pp_huffdec_status decode_shared_nonzeros(const SharedWeights& w, const pp_u8_huffdec_ukernel& ukernel,
                                         int32_t* positions, float* values);

}  // namespace pyprune
