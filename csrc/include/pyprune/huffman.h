// Huffman-coded weights (Deep Compression), decoded straight into the buffers the convolution
// kernels take. Python-free.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pyprune/dispatch.h"

namespace pyprune {

// The decoding tables of one canonical code (params.h), built once from its code lengths.
class HuffmanCode {
 public:
  // lengths[0 .. alphabet); std::invalid_argument starting with `what` if they are no valid code.
  HuffmanCode(const uint8_t* lengths, size_t alphabet, const std::string& what);
  const pp_huffdec_table& table() const { return *table_; }

 private:
  std::shared_ptr<const pp_huffdec_table> table_;  // about 18 KB, shared by copies
};

// A Huffman-coded run of `symbols` symbols, with its code:
//   byte 0                 S, the number of streams (1..PP_HUFFDEC_MAX_STREAMS)
//   bytes 1 .. 4S          the byte size of each stream, uint32 little-endian
//   then the S streams, back to back, filling the rest of the block exactly.
// Stream s holds symbols [s q, min(n, (s + 1) q)) with q = ceil(n / S).
class HuffmanBlock {
 public:
  // Checks the code and that `symbols` can fit in the data (every code is at least one bit)
  // before anything is allocated for them; std::invalid_argument starting with `what`.
  HuffmanBlock(std::vector<uint8_t> data, size_t symbols, const uint8_t* lengths, size_t alphabet, std::string what);

  // The symbols into out[0 .. symbols()); std::invalid_argument starting with `what` if the
  // data is corrupt or decodes a symbol above max_symbol.
  void decode(const pp_u8_huffdec_ukernel& ukernel, size_t max_symbol, uint8_t* out) const;
  size_t symbols() const { return symbols_; }
  size_t bytes() const { return data_.size(); }

 private:
  std::vector<uint8_t> data_;
  size_t symbols_;
  HuffmanCode code_;
  std::string what_;
};

// A weight-shared layer: weight = codebook[value symbol]. Dense (no gaps): one value per weight,
// in order. Sparse: gap symbols place the values; with M = 2^index_bits - 1, a gap g < M skips g
// zeros then places the next value, g == M skips M zeros and places nothing (a filler).
class SharedWeights {
 public:
  // std::invalid_argument when the parts cannot describe a weight of `size` elements.
  SharedWeights(HuffmanBlock values, std::optional<HuffmanBlock> gaps, unsigned index_bits,
                std::vector<float> codebook, size_t size);

  // Decodes into weight[0 .. size()) (zeros where no value lands); std::invalid_argument
  // naming the stream if it is corrupt.
  void decode(const pp_u8_huffdec_ukernel& ukernel, float* weight) const;
  // Sparse layers only: the non-zeros' flat positions (ascending) and values, nonzero_count() of each.
  void nonzeros(const pp_u8_huffdec_ukernel& ukernel, int32_t* positions, float* values) const;

  size_t size() const { return size_; }
  size_t nonzero_count() const { return values_.symbols(); }
  bool sparse() const { return gaps_.has_value(); }
  // Bytes of the coded streams and the codebook held in memory.
  size_t coded_bytes() const;

 private:
  template <typename Emit>
  void place(const pp_u8_huffdec_ukernel& ukernel, const uint8_t* values, Emit emit) const;

  HuffmanBlock values_;
  std::optional<HuffmanBlock> gaps_;
  unsigned index_bits_;
  std::vector<float> codebook_;
  size_t size_;
};

}  // namespace pyprune
