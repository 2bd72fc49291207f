// Parameter blocks passed last to every microkernel.
#pragma once

#include <cstddef>
#include <cstdint>

// Fused activation as a clamp: none = [-inf, inf], ReLU = [0, inf], ReLU6 = [0, 6].
// Kernels clamp as max(min, x) then min(max, x) in the order that keeps NaN.
struct pp_f32_minmax_params {
  float min;
  float max;
};
// No clamp: a kernel's plain result (elementwise steps, products an epilogue or nothing follows).
constexpr pp_f32_minmax_params kPpUnclamped = {-__builtin_inff(), __builtin_inff()};

// An activation microkernel's parameters (f32-vunary): the clamp's bounds (clamp kind) and
// alpha (leaky_relu's negative slope, elu's alpha); the other kinds have none.
struct pp_f32_activation_params {
  float min;
  float max;
  float alpha;
};

// ---- canonical Huffman decoding (u8 symbols) ------------------------------------------------
//
// A code is given by one length per symbol (0 = unused, at most PP_HUFFDEC_MAX_BITS); codes are
// assigned canonically, shorter first and by symbol value within a length, and written
// most-significant bit first. pp_huffdec_table_init builds every table a decoder variant uses.

#define PP_HUFFDEC_MAX_BITS 11
#define PP_HUFFDEC_MAX_ALPHABET 256
#define PP_HUFFDEC_MAX_STREAMS 4
// Symbols one entry of the multi-symbol table holds at most.
#define PP_HUFFDEC_MULTI_SYMBOLS 6

enum pp_huffdec_status {
  pp_huffdec_ok = 0,
  pp_huffdec_bad_lengths,    // a length above PP_HUFFDEC_MAX_BITS, or more codes than fit (Kraft > 1)
  pp_huffdec_invalid_code,   // the bits match no code (a code with unused patterns, or corruption)
  pp_huffdec_truncated,      // a stream ends before its symbols do
  pp_huffdec_trailing_bytes, // a stream has whole bytes left after its last symbol
  pp_huffdec_bad_header,     // the block's stream count or stream sizes do not fit the block
  pp_huffdec_bad_symbol,     // a symbol the caller's table (codebook, gap width) does not have
  pp_huffdec_bad_positions,  // gaps lead past the end of the weight, or gaps and values disagree
};

// Text for a status, for error messages.
const char* pp_huffdec_status_message(pp_huffdec_status status);

struct pp_huffdec_table {
  // Canonical description, for the bit-by-bit reference decoder.
  uint16_t count[PP_HUFFDEC_MAX_BITS + 1];     // codes of each length
  uint8_t sorted[PP_HUFFDEC_MAX_ALPHABET];     // symbols by (length, value)
  uint16_t alphabet;                           // 1 + the largest used symbol (0: no symbols)
  // Indexed by the next PP_HUFFDEC_MAX_BITS bits of the stream.
  // single: symbol | length << 8; patterns that are no code have PP_HUFFDEC_INVALID set and
  //   length PP_HUFFDEC_MAX_BITS (so a fast loop still moves forward before it reports them).
  uint16_t single[1 << PP_HUFFDEC_MAX_BITS];
  // multi: as many whole codes as the window holds, up to PP_HUFFDEC_MULTI_SYMBOLS:
  //   bytes 0-5 the symbols, bits 48-51 their number, bit 55 invalid, bits 56-63 bits used.
  uint64_t multi[1 << PP_HUFFDEC_MAX_BITS];
};

#define PP_HUFFDEC_INVALID 0x8000u
#define PP_HUFFDEC_MULTI_INVALID (uint64_t{1} << 55)

// Builds `table` from lengths[0..alphabet) (alphabet <= PP_HUFFDEC_MAX_ALPHABET). Returns
// pp_huffdec_bad_lengths for a length above PP_HUFFDEC_MAX_BITS or an over-full code; codes
// with unused patterns are accepted (one symbol alone has a 1-bit code) and such patterns
// decode as pp_huffdec_invalid_code.
pp_huffdec_status pp_huffdec_table_init(const uint8_t* lengths, size_t alphabet,
                                        pp_huffdec_table* table);
