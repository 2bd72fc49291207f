// Huffman-coded blocks and weight-shared layers decoded straight into the buffers the
// convolution kernels take. Every size in a block is checked before it is used.
#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "pyprune/huffman.h"

namespace pyprune {

namespace {

[[noreturn]] void fail(const std::string& what, pp_huffdec_status status) {
  throw std::invalid_argument(what + ": " + pp_huffdec_status_message(status));
}

struct Streams {
  size_t count = 0;
  size_t symbols[PP_HUFFDEC_MAX_STREAMS];
  const uint8_t* input[PP_HUFFDEC_MAX_STREAMS];
  size_t bytes[PP_HUFFDEC_MAX_STREAMS];
};

pp_huffdec_status split(const std::vector<uint8_t>& data, size_t symbols, Streams* st) {
  if (data.empty()) return pp_huffdec_bad_header;
  const size_t count = data[0];
  if (count < 1 || count > PP_HUFFDEC_MAX_STREAMS) return pp_huffdec_bad_header;
  const size_t header = 1 + 4 * count;
  if (data.size() < header) return pp_huffdec_bad_header;
  size_t offset = header;
  const size_t q = (symbols + count - 1) / count;
  for (size_t s = 0; s < count; s++) {
    const uint8_t* b = data.data() + 1 + 4 * s;
    const size_t size = size_t{b[0]} | size_t{b[1]} << 8 | size_t{b[2]} << 16 | size_t{b[3]} << 24;
    if (size > data.size() - offset) return pp_huffdec_bad_header;
    st->input[s] = data.data() + offset;
    st->bytes[s] = size;
    const size_t first = s * q;
    st->symbols[s] = first >= symbols ? 0 : std::min(q, symbols - first);
    offset += size;
  }
  if (offset != data.size()) return pp_huffdec_bad_header;
  st->count = count;
  return pp_huffdec_ok;
}

}  // namespace

HuffmanCode::HuffmanCode(const uint8_t* lengths, size_t alphabet, const std::string& what) {
  if (alphabet > PP_HUFFDEC_MAX_ALPHABET)
    throw std::invalid_argument(what + " lengths must have at most " + std::to_string(PP_HUFFDEC_MAX_ALPHABET) +
                                " entries, got " + std::to_string(alphabet));
  auto table = std::make_shared<pp_huffdec_table>();
  const pp_huffdec_status status = pp_huffdec_table_init(lengths, alphabet, table.get());
  if (status != pp_huffdec_ok) fail(what, status);
  table_ = std::move(table);
}

HuffmanBlock::HuffmanBlock(std::vector<uint8_t> data, size_t symbols, const uint8_t* lengths, size_t alphabet,
                           std::string what)
    : data_(std::move(data)), symbols_(symbols), code_(lengths, alphabet, what), what_(std::move(what)) {
  // Every code is at least one bit long: more symbols than bits is a lie, refused before the
  // caller allocates for them.
  if (symbols_ / 8 > data_.size()) fail(what_, pp_huffdec_truncated);
}

void HuffmanBlock::decode(const pp_u8_huffdec_ukernel& ukernel, size_t max_symbol, uint8_t* out) const {
  // A code without symbols above max_symbol cannot decode one.
  if (code_.table().alphabet > max_symbol + 1) fail(what_, pp_huffdec_bad_symbol);
  Streams st;
  pp_huffdec_status status = split(data_, symbols_, &st);
  if (status != pp_huffdec_ok) fail(what_, status);
  uint8_t* outs[PP_HUFFDEC_MAX_STREAMS];
  const size_t q = (symbols_ + st.count - 1) / st.count;
  for (size_t s = 0; s < st.count; s++) outs[s] = out + std::min(s * q, symbols_);
  status = ukernel.fn(st.count, st.symbols, st.input, st.bytes, &code_.table(), outs);
  if (status != pp_huffdec_ok) fail(what_, status);
}

SharedWeights::SharedWeights(HuffmanBlock values, std::optional<HuffmanBlock> gaps, unsigned index_bits,
                             std::vector<float> codebook, size_t size)
    : values_(std::move(values)), gaps_(std::move(gaps)), index_bits_(index_bits), codebook_(std::move(codebook)),
      size_(size) {
  if (codebook_.empty() || codebook_.size() > PP_HUFFDEC_MAX_ALPHABET)
    throw std::invalid_argument("codebook must have 1 to " + std::to_string(PP_HUFFDEC_MAX_ALPHABET) +
                                " entries, got " + std::to_string(codebook_.size()));
  if (!gaps_) {
    if (values_.symbols() != size_) fail("weights", pp_huffdec_bad_positions);
    return;
  }
  if (index_bits_ < 1 || index_bits_ > 8)
    throw std::invalid_argument("index_bits must be in [1, 8], got " + std::to_string(index_bits_));
  if (values_.symbols() > size_) fail("weights", pp_huffdec_bad_positions);
}

size_t SharedWeights::coded_bytes() const {
  return values_.bytes() + (gaps_ ? gaps_->bytes() : 0) + codebook_.size() * sizeof(float);
}

// Walks the gaps: emit(value number, position, value symbol) for each value; checks every position.
template <typename Emit>
void SharedWeights::place(const pp_u8_huffdec_ukernel& ukernel, const uint8_t* values, Emit emit) const {
  std::vector<uint8_t> gaps(gaps_->symbols());
  const unsigned filler = (1u << index_bits_) - 1;
  gaps_->decode(ukernel, filler, gaps.data());
  size_t cursor = 0, v = 0;
  for (const uint8_t g : gaps) {
    cursor += g;
    if (g == filler) continue;
    if (cursor >= size_ || v == values_.symbols()) fail("weights", pp_huffdec_bad_positions);
    emit(v, cursor, values[v]);
    cursor++;
    v++;
  }
  if (v != values_.symbols() || cursor > size_) fail("weights", pp_huffdec_bad_positions);
}

void SharedWeights::decode(const pp_u8_huffdec_ukernel& ukernel, float* weight) const {
  std::vector<uint8_t> values(values_.symbols());
  values_.decode(ukernel, codebook_.size() - 1, values.data());
  const float* codebook = codebook_.data();
  if (!gaps_) {
    for (size_t i = 0; i < size_; i++) weight[i] = codebook[values[i]];
    return;
  }
  std::memset(weight, 0, size_ * sizeof(float));
  place(ukernel, values.data(), [&](size_t, size_t position, uint8_t symbol) { weight[position] = codebook[symbol]; });
}

void SharedWeights::nonzeros(const pp_u8_huffdec_ukernel& ukernel, int32_t* positions, float* values_out) const {
  if (!gaps_) throw std::invalid_argument("gaps must be given: only sparse layers have non-zeros to list");
  if (size_ > size_t{INT32_MAX}) fail("weights", pp_huffdec_bad_positions);
  std::vector<uint8_t> values(values_.symbols());
  values_.decode(ukernel, codebook_.size() - 1, values.data());
  place(ukernel, values.data(), [&](size_t v, size_t position, uint8_t symbol) {
    positions[v] = static_cast<int32_t>(position);
    values_out[v] = codebook_[symbol];
  });
}

}  // namespace pyprune
