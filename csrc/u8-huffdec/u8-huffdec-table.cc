// Decoding tables of a canonical Huffman code, built from its code lengths (see params.h).
#include <cstring>

#include "pyprune/params.h"

namespace {

constexpr unsigned kBits = PP_HUFFDEC_MAX_BITS;
constexpr unsigned kInvalidSingle = PP_HUFFDEC_INVALID | kBits << 8;

// Up to PP_HUFFDEC_MULTI_SYMBOLS whole codes from the kBits-bit window `index`: a code is taken
// only when all its bits are inside the window (a code's symbol depends on its own bits only,
// so the zeros shifted in below the window never decide one).
uint64_t multi_entry(const uint16_t* single, unsigned index) {
  const uint16_t first = single[index];
  if (first & PP_HUFFDEC_INVALID) return PP_HUFFDEC_MULTI_INVALID | uint64_t{kBits} << 56;
  uint64_t symbols = 0;
  unsigned used = 0, count = 0;
  while (count < PP_HUFFDEC_MULTI_SYMBOLS) {
    const uint16_t e = single[(index << used) & ((1u << kBits) - 1)];
    const unsigned length = (e >> 8) & 0xf;
    if ((e & PP_HUFFDEC_INVALID) || used + length > kBits) break;
    symbols |= uint64_t{static_cast<uint8_t>(e)} << (8 * count);
    used += length;
    count++;
  }
  return symbols | uint64_t{count} << 48 | uint64_t{used} << 56;
}

}  // namespace

pp_huffdec_status pp_huffdec_table_init(const uint8_t* lengths, size_t alphabet,
                                        pp_huffdec_table* table) {
  if (alphabet > PP_HUFFDEC_MAX_ALPHABET) return pp_huffdec_bad_lengths;
  std::memset(table->count, 0, sizeof(table->count));
  table->alphabet = 0;
  for (size_t s = 0; s < alphabet; s++) {
    if (lengths[s] > kBits) return pp_huffdec_bad_lengths;
    table->count[lengths[s]]++;
    if (lengths[s] != 0) table->alphabet = static_cast<uint16_t>(s + 1);
  }
  table->count[0] = 0;
  // Kraft: the codes of each length must fit in the patterns the shorter ones leave free.
  uint32_t free_patterns = 1;
  for (unsigned len = 1; len <= kBits; len++) {
    free_patterns = 2 * free_patterns;
    if (table->count[len] > free_patterns) return pp_huffdec_bad_lengths;
    free_patterns -= table->count[len];
  }
  // Symbols sorted by (length, value), and the first code of each length.
  uint16_t offset[kBits + 2] = {0};
  for (unsigned len = 1; len <= kBits; len++) offset[len + 1] = offset[len] + table->count[len];
  uint32_t first_code[kBits + 1] = {0};
  for (unsigned len = 1, code = 0; len <= kBits; len++) {
    code = (code + table->count[len - 1]) << 1;
    first_code[len] = code;
  }
  for (size_t s = 0; s < alphabet; s++)
    if (lengths[s] != 0) table->sorted[offset[lengths[s]]++] = static_cast<uint8_t>(s);

  for (auto& e : table->single) e = kInvalidSingle;
  for (unsigned len = 1, i = 0; len <= kBits; len++) {
    for (unsigned j = 0; j < table->count[len]; j++, i++) {
      const uint32_t code = first_code[len] + j;
      const uint16_t entry = static_cast<uint16_t>(table->sorted[i] | len << 8);
      const uint32_t span = 1u << (kBits - len);
      for (uint32_t k = 0; k < span; k++) table->single[code * span + k] = entry;
    }
  }
  for (unsigned index = 0; index < (1u << kBits); index++)
    table->multi[index] = multi_entry(table->single, index);
  return pp_huffdec_ok;
}

const char* pp_huffdec_status_message(pp_huffdec_status status) {
  switch (status) {
    case pp_huffdec_ok: return "ok";
    case pp_huffdec_bad_lengths: return "code lengths are not a valid Huffman code";
    case pp_huffdec_invalid_code: return "bitstream holds a bit pattern that is no code";
    case pp_huffdec_truncated: return "bitstream ends before its last symbol";
    case pp_huffdec_trailing_bytes: return "bitstream has bytes left after its last symbol";
    case pp_huffdec_bad_header: return "stream header does not match the block size";
    case pp_huffdec_bad_symbol: return "decoded symbol is outside the codebook or gap range";
    case pp_huffdec_bad_positions: return "gaps run past the end of the weight or do not match the values";
  }
  return "unknown status";
}
