// Table-driven canonical Huffman decoder template, shared by the u8-huffdec-lut11-scalar*.cc
// kernels. Contract: ukernels.h; tables: params.h.
//
// Fast loop (branch-free inside a round): each stream keeps a byte pointer and a count of bits
// already used from that byte. A round loads 8 big-endian bytes per stream (at least 57 fresh
// bits) and does kLookups = 5 lookups of 11 bits in it, the streams interleaved so their four
// dependency chains (shift -> table load -> add length) overlap. An entry of the multi-symbol
// table writes 8 bytes at once and advances by its symbol count, so one lookup yields about
// 11 / (mean code length) symbols. Rounds run only while every stream has 8 bytes of input
// and room for a whole round's output, so nothing is read or written out of bounds and every
// symbol decoded there is one the stream owes. Invalid patterns consume 11 bits (progress is
// guaranteed) and set a flag that is checked after the loop.
// Tail: one symbol per lookup from a window assembled byte by byte (bytes past the end read as
// zero), checking the stream's end at every symbol.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "pyprune/ukernels.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the bit reader assumes a little-endian CPU");

namespace pp_u8_huffdec_scalar {

constexpr unsigned kBits = PP_HUFFDEC_MAX_BITS;
constexpr unsigned kLookups = (64 - 7) / kBits;

struct Stream {
  const uint8_t* begin;
  const uint8_t* end;
  const uint8_t* p;  // next byte to load
  unsigned used;     // bits of *p already decoded
  uint8_t* out;
  uint8_t* out_end;
};

inline uint64_t load_be64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof(v));
  return __builtin_bswap64(v);
}

// Output bytes one round may touch: the last lookup writes 8 bytes (multi) or 1 byte (single).
template <bool Multi>
constexpr ptrdiff_t round_output_bytes() {
  return Multi ? (kLookups - 1) * PP_HUFFDEC_MULTI_SYMBOLS + sizeof(uint64_t) : kLookups;
}

// Rounds over S streams until one runs short of input or output room; true if an invalid
// pattern was met.
template <bool Multi, size_t S>
inline bool fast_rounds(Stream* st, const pp_huffdec_table* PP_RESTRICT table) {
  uint64_t invalid = 0;
  for (;;) {
    bool room = true;
    for (size_t s = 0; s < S; s++)
      room &= (st[s].end - st[s].p >= 8) & (st[s].out_end - st[s].out >= round_output_bytes<Multi>());
    if (!room) break;
    uint64_t window[S];
    unsigned used[S];
    uint8_t* out[S];
    for (size_t s = 0; s < S; s++) {
      window[s] = load_be64(st[s].p);
      used[s] = st[s].used;
      out[s] = st[s].out;
    }
    for (unsigned k = 0; k < kLookups; k++) {
      for (size_t s = 0; s < S; s++) {
        const unsigned index = static_cast<unsigned>((window[s] << used[s]) >> (64 - kBits));
        if (Multi) {
          const uint64_t e = table->multi[index];
          std::memcpy(out[s], &e, sizeof(e));
          out[s] += (e >> 48) & 0xf;
          used[s] += static_cast<unsigned>(e >> 56);
          invalid |= e;
        } else {
          const uint16_t e = table->single[index];
          *out[s]++ = static_cast<uint8_t>(e);
          used[s] += (e >> 8) & 0xf;
          invalid |= e;
        }
      }
    }
    for (size_t s = 0; s < S; s++) {
      st[s].p += used[s] >> 3;
      st[s].used = used[s] & 7;
      st[s].out = out[s];
    }
  }
  return (invalid & (Multi ? PP_HUFFDEC_MULTI_INVALID : PP_HUFFDEC_INVALID)) != 0;
}

// The stream's remaining symbols, one lookup each, then its end checked.
inline pp_huffdec_status finish(const Stream& st, const pp_huffdec_table* PP_RESTRICT table) {
  const size_t bytes = static_cast<size_t>(st.end - st.begin);
  size_t bit = static_cast<size_t>(st.p - st.begin) * 8 + st.used;
  for (uint8_t* out = st.out; out != st.out_end; out++) {
    const size_t byte = bit >> 3;
    uint32_t window = 0;  // 24 bits from `byte`: enough for 7 used bits and one code
    for (size_t i = 0; i < 3; i++) window = window << 8 | (byte + i < bytes ? st.begin[byte + i] : 0);
    const unsigned index = (window >> (24 - kBits - (bit & 7))) & ((1u << kBits) - 1);
    const uint16_t e = table->single[index];
    bit += (e >> 8) & 0xf;
    if (bit > bytes * 8) return pp_huffdec_truncated;
    if (e & PP_HUFFDEC_INVALID) return pp_huffdec_invalid_code;
    *out = static_cast<uint8_t>(e);
  }
  return (bit + 7) / 8 == bytes ? pp_huffdec_ok : pp_huffdec_trailing_bytes;
}

template <bool Multi>
pp_huffdec_status decode(size_t streams, const size_t* symbols, const uint8_t* const* input,
                         const size_t* input_bytes, const pp_huffdec_table* table,
                         uint8_t* const* output) {
  PP_ASSERT(streams >= 1 && streams <= PP_HUFFDEC_MAX_STREAMS);
  Stream st[PP_HUFFDEC_MAX_STREAMS];
  for (size_t s = 0; s < streams; s++)
    st[s] = {input[s], input[s] + input_bytes[s], input[s], 0, output[s], output[s] + symbols[s]};
  bool invalid = streams == PP_HUFFDEC_MAX_STREAMS && fast_rounds<Multi, PP_HUFFDEC_MAX_STREAMS>(st, table);
  // Streams the interleaved loop left with much to do (it stops at the first one to run short).
  for (size_t s = 0; s < streams; s++) invalid |= fast_rounds<Multi, 1>(&st[s], table);
  if (invalid) return pp_huffdec_invalid_code;
  for (size_t s = 0; s < streams; s++) {
    const pp_huffdec_status status = finish(st[s], table);
    if (status != pp_huffdec_ok) return status;
  }
  return pp_huffdec_ok;
}

}  // namespace pp_u8_huffdec_scalar

#define PP_U8_HUFFDEC_SCALAR_UKERNEL(name, multi)                                                \
  extern "C" pp_huffdec_status name(size_t streams, const size_t* symbols,                     \
                                    const uint8_t* const* input, const size_t* input_bytes,    \
                                    const pp_huffdec_table* table, uint8_t* const* output) {   \
    return pp_u8_huffdec_scalar::decode<multi>(streams, symbols, input, input_bytes, table, output); \
  }
