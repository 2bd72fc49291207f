// Reference canonical Huffman decoder: one bit at a time, one stream after the other, with the
// code's canonical description only (count of codes per length, symbols in code order).
#include "pyprune/ukernels.h"

namespace {

pp_huffdec_status decode_stream(size_t symbols, const uint8_t* input, size_t input_bytes,
                                const pp_huffdec_table* table, uint8_t* output) {
  const size_t total_bits = input_bytes * 8;
  size_t bit = 0;
  for (size_t n = 0; n < symbols; n++) {
    // Codes of length len are the integers [first, first + count[len]) read on len bits.
    uint32_t code = 0, first = 0, index = 0;
    bool found = false;
    for (unsigned len = 1; len <= PP_HUFFDEC_MAX_BITS; len++) {
      if (bit == total_bits) return pp_huffdec_truncated;
      code |= (input[bit >> 3] >> (7 - (bit & 7))) & 1;
      bit++;
      const uint32_t count = table->count[len];
      if (code - first < count) {
        output[n] = table->sorted[index + code - first];
        found = true;
        break;
      }
      index += count;
      first = (first + count) << 1;
      code <<= 1;
    }
    if (!found) return pp_huffdec_invalid_code;
  }
  if ((bit + 7) / 8 != input_bytes) return pp_huffdec_trailing_bytes;
  return pp_huffdec_ok;
}

}  // namespace

extern "C" pp_huffdec_status pp_u8_huffdec_ukernel__ref(size_t streams, const size_t* symbols,
                                                        const uint8_t* const* input,
                                                        const size_t* input_bytes,
                                                        const pp_huffdec_table* table,
                                                        uint8_t* const* output) {
  PP_ASSERT(streams >= 1 && streams <= PP_HUFFDEC_MAX_STREAMS);
  for (size_t s = 0; s < streams; s++) {
    const pp_huffdec_status status = decode_stream(symbols[s], input[s], input_bytes[s], table, output[s]);
    if (status != pp_huffdec_ok) return status;
  }
  return pp_huffdec_ok;
}
