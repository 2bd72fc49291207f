// Huffman-coded blocks and weight-shared layers decoded straight into the buffers the
// convolution kernels take. Every size in a block is checked before it is used.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "pyprune/ops.h"

namespace pyprune {

namespace {

struct Streams {
  size_t count = 0;
  size_t symbols[PP_HUFFDEC_MAX_STREAMS];
  const uint8_t* input[PP_HUFFDEC_MAX_STREAMS];
  size_t bytes[PP_HUFFDEC_MAX_STREAMS];
};

pp_huffdec_status split(const HuffmanBlock& block, Streams* st) {
  if (block.bytes < 1) return pp_huffdec_bad_header;
  const size_t count = block.data[0];
  if (count < 1 || count > PP_HUFFDEC_MAX_STREAMS) return pp_huffdec_bad_header;
  const size_t header = 1 + 4 * count;
  if (block.bytes < header) return pp_huffdec_bad_header;
  size_t offset = header;
  const size_t q = (block.symbols + count - 1) / count;
  for (size_t s = 0; s < count; s++) {
    const uint8_t* b = block.data + 1 + 4 * s;
    const size_t size = size_t{b[0]} | size_t{b[1]} << 8 | size_t{b[2]} << 16 | size_t{b[3]} << 24;
    if (size > block.bytes - offset) return pp_huffdec_bad_header;
    st->input[s] = block.data + offset;
    st->bytes[s] = size;
    const size_t first = s * q;
    st->symbols[s] = first >= block.symbols ? 0 : std::min(q, block.symbols - first);
    offset += size;
  }
  if (offset != block.bytes) return pp_huffdec_bad_header;
  st->count = count;
  return pp_huffdec_ok;
}

pp_huffdec_status decode_symbols(const HuffmanBlock& block, const pp_u8_huffdec_ukernel& ukernel,
                                 size_t max_symbol, uint8_t* out) {
  pp_huffdec_table table;
  pp_huffdec_status status = pp_huffdec_table_init(block.lengths, block.alphabet, &table);
  if (status != pp_huffdec_ok) return status;
  // A code without symbols above max_symbol cannot decode one.
  if (table.alphabet > max_symbol + 1) return pp_huffdec_bad_symbol;
  Streams st;
  status = split(block, &st);
  if (status != pp_huffdec_ok) return status;
  uint8_t* outs[PP_HUFFDEC_MAX_STREAMS];
  size_t q = (block.symbols + st.count - 1) / st.count;
  for (size_t s = 0; s < st.count; s++) outs[s] = out + std::min(s * q, block.symbols);
  return ukernel.fn(st.count, st.symbols, st.input, st.bytes, &table, outs);
}

pp_huffdec_status check_shared(const SharedWeights& w) {
  if (w.codebook_size < 1 || w.codebook_size > PP_HUFFDEC_MAX_ALPHABET) return pp_huffdec_bad_symbol;
  if (w.gaps == nullptr) return w.values.symbols == w.size ? pp_huffdec_ok : pp_huffdec_bad_positions;
  if (w.index_bits < 1 || w.index_bits > 8) return pp_huffdec_bad_symbol;
  return w.values.symbols <= w.size ? pp_huffdec_ok : pp_huffdec_bad_positions;
}

// Walks the gaps: emit(position, value index) for each value; checks every position.
template <typename Emit>
pp_huffdec_status place(const SharedWeights& w, const pp_u8_huffdec_ukernel& ukernel,
                        const uint8_t* values, Emit emit) {
  std::vector<uint8_t> gaps(w.gaps->symbols);
  const unsigned filler = (1u << w.index_bits) - 1;
  const pp_huffdec_status status = decode_symbols(*w.gaps, ukernel, filler, gaps.data());
  if (status != pp_huffdec_ok) return status;
  size_t cursor = 0, v = 0;
  for (const uint8_t g : gaps) {
    cursor += g;
    if (g == filler) continue;
    if (cursor >= w.size || v == w.values.symbols) return pp_huffdec_bad_positions;
    emit(v, cursor, values[v]);
    cursor++;
    v++;
  }
  return v == w.values.symbols && cursor <= w.size ? pp_huffdec_ok : pp_huffdec_bad_positions;
}

}  // namespace

pp_huffdec_status huffman_decode(const HuffmanBlock& block, const pp_u8_huffdec_ukernel& ukernel,
                                 uint8_t* out) {
  return decode_symbols(block, ukernel, PP_HUFFDEC_MAX_ALPHABET - 1, out);
}

pp_huffdec_status decode_shared_weights(const SharedWeights& w, const pp_u8_huffdec_ukernel& ukernel,
                                        float* weight) {
  pp_huffdec_status status = check_shared(w);
  if (status != pp_huffdec_ok) return status;
  std::vector<uint8_t> values(w.values.symbols);
  status = decode_symbols(w.values, ukernel, w.codebook_size - 1, values.data());
  if (status != pp_huffdec_ok) return status;
  const float* codebook = w.codebook;
  if (w.gaps == nullptr) {
    for (size_t i = 0; i < w.size; i++) weight[i] = codebook[values[i]];
    return pp_huffdec_ok;
  }
  std::memset(weight, 0, w.size * sizeof(float));
  return place(w, ukernel, values.data(),
               [&](size_t, size_t position, uint8_t symbol) { weight[position] = codebook[symbol]; });
}

pp_huffdec_status decode_shared_nonzeros(const SharedWeights& w, const pp_u8_huffdec_ukernel& ukernel,
                                         int32_t* positions, float* values_out) {
  pp_huffdec_status status = check_shared(w);
  if (status != pp_huffdec_ok) return status;
  if (w.gaps == nullptr || w.size > size_t{INT32_MAX}) return pp_huffdec_bad_positions;
  std::vector<uint8_t> values(w.values.symbols);
  status = decode_symbols(w.values, ukernel, w.codebook_size - 1, values.data());
  if (status != pp_huffdec_ok) return status;
  return place(w, ukernel, values.data(), [&](size_t v, size_t position, uint8_t symbol) {
    positions[v] = static_cast<int32_t>(position);
    values_out[v] = w.codebook[symbol];
  });
}

}  // namespace pyprune
