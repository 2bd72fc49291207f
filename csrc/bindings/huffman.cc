// Canonical Huffman decoding: raw blocks of u8 symbols, and weight-shared layers decoded into
// dense float weights or sparse (position, value) pairs. Corrupt input raises ValueError.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>

#include "arrays.h"
#include "pyprune/dispatch.h"
#include "pyprune/ops.h"
#include "register.h"
#include "ukernel_rows.h"

namespace pyprune::bindings {

namespace {

const pp_u8_huffdec_ukernel& huffdec_ukernel(const py::object& name) {
  if (name.is_none()) return pp_u8_huffdec_config();
  const std::string wanted = py::cast<std::string>(name);
  const auto isas = pp_available_isas();
  for (const auto& k : pp_u8_huffdec_ukernels()) {
    if (wanted != k.name) continue;
    if (std::find(isas.begin(), isas.end(), k.isa) == isas.end())
      value_error("ukernel " + wanted + " needs " + pp_isa_name(k.isa) + ", which this CPU lacks");
    return k;
  }
  value_error("unknown ukernel: " + wanted);
}

void check(pp_huffdec_status status, const char* what) {
  if (status != pp_huffdec_ok) value_error(std::string(what) + ": " + pp_huffdec_status_message(status));
}

size_t count(py::ssize_t n, const char* name) {
  if (n < 0) value_error(std::string(name) + " must not be negative, got " + std::to_string(n));
  return static_cast<size_t>(n);
}

// A Huffman block with its arrays kept alive: data (uint8, 1-D) and lengths (uint8, 1-D).
struct Block {
  py::array data, lengths;
  HuffmanBlock block;

  Block(const py::object& data_obj, py::ssize_t symbols, const py::object& lengths_obj, const char* name)
      : data(typed_array<uint8_t>(data_obj, name, 1, true)),
        lengths(typed_array<uint8_t>(lengths_obj, (std::string(name) + " lengths").c_str(), 1, true)) {
    if (lengths.shape(0) > PP_HUFFDEC_MAX_ALPHABET)
      value_error(std::string(name) + " lengths must have at most " + std::to_string(PP_HUFFDEC_MAX_ALPHABET) +
                  " entries, got " + std::to_string(lengths.shape(0)));
    block = {static_cast<const uint8_t*>(data.data()), static_cast<size_t>(data.shape(0)),
             count(symbols, "symbols"), static_cast<const uint8_t*>(lengths.data()),
             static_cast<size_t>(lengths.shape(0))};
  }
};

py::array huffman_decode_block(const py::object& data, py::ssize_t symbols, const py::object& lengths,
                               const py::object& ukernel_name) {
  const Block b(data, symbols, lengths, "data");
  const auto& ukernel = huffdec_ukernel(ukernel_name);
  py::array_t<uint8_t> out(static_cast<py::ssize_t>(b.block.symbols));
  uint8_t* o = out.mutable_data();
  pp_huffdec_status status;
  {
    py::gil_scoped_release release;
    status = huffman_decode(b.block, ukernel, o);
  }
  check(status, "data");
  return out;
}

// The arguments shared by both layer decoders, checked.
struct Layer {
  Block values;
  std::optional<Block> gaps;
  py::array codebook;
  SharedWeights w;

  Layer(const py::object& values_obj, py::ssize_t value_symbols, const py::object& value_lengths,
        const py::object& codebook_obj, py::ssize_t size, const py::object& gaps_obj,
        py::ssize_t gap_symbols, const py::object& gap_lengths, unsigned index_bits)
      : values(values_obj, value_symbols, value_lengths, "values"),
        codebook(float_array(codebook_obj, "codebook", 1)) {
    if (codebook.shape(0) > PP_HUFFDEC_MAX_ALPHABET)
      value_error("codebook must have at most " + std::to_string(PP_HUFFDEC_MAX_ALPHABET) + " entries, got " +
                  std::to_string(codebook.shape(0)));
    if (!gaps_obj.is_none()) {
      gaps.emplace(gaps_obj, gap_symbols, gap_lengths, "gaps");
      if (index_bits < 1 || index_bits > 8)
        value_error("index_bits must be in [1, 8], got " + std::to_string(index_bits));
    }
    w = {values.block, gaps ? &gaps->block : nullptr, index_bits,
         static_cast<const float*>(codebook.data()), static_cast<size_t>(codebook.shape(0)), count(size, "size")};
  }
};

py::array decode_weights(const py::object& values, py::ssize_t value_symbols, const py::object& value_lengths,
                         const py::object& codebook, py::ssize_t size, const py::object& gaps,
                         py::ssize_t gap_symbols, const py::object& gap_lengths, unsigned index_bits,
                         const py::object& out_obj) {
  const Layer layer(values, value_symbols, value_lengths, codebook, size, gaps, gap_symbols, gap_lengths, index_bits);
  py::array out = output_array(out_obj, {static_cast<py::ssize_t>(layer.w.size)}, {&layer.codebook});
  float* o = static_cast<float*>(out.mutable_data());
  const auto& ukernel = pp_u8_huffdec_config();
  pp_huffdec_status status;
  {
    py::gil_scoped_release release;
    status = decode_shared_weights(layer.w, ukernel, o);
  }
  check(status, "weights");
  return out;
}

py::tuple decode_nonzeros(const py::object& values, py::ssize_t value_symbols, const py::object& value_lengths,
                          const py::object& codebook, py::ssize_t size, const py::object& gaps,
                          py::ssize_t gap_symbols, const py::object& gap_lengths, unsigned index_bits) {
  if (gaps.is_none()) value_error("gaps must be given: only sparse layers have non-zeros to list");
  const Layer layer(values, value_symbols, value_lengths, codebook, size, gaps, gap_symbols, gap_lengths, index_bits);
  const auto n = static_cast<py::ssize_t>(layer.w.values.symbols);
  py::array_t<int32_t> positions(n);
  py::array_t<float> nonzeros(n);
  int32_t* p = positions.mutable_data();
  float* v = nonzeros.mutable_data();
  const auto& ukernel = pp_u8_huffdec_config();
  pp_huffdec_status status;
  {
    py::gil_scoped_release release;
    status = decode_shared_nonzeros(layer.w, ukernel, p, v);
  }
  check(status, "weights");
  return py::make_tuple(positions, nonzeros);
}

}  // namespace

void register_huffman(py::module_& m, py::module_& testing) {
  m.def("huffman_decode", &huffman_decode_block, py::arg("data"), py::arg("symbols"), py::arg("lengths"),
        py::arg("ukernel") = py::none(),
        "Decodes a Huffman block (uint8) of `symbols` symbols coded with the canonical code of "
        "`lengths` (uint8, one per symbol). ValueError if the block is corrupt.");
  m.def("decode_shared_weights", &decode_weights, py::arg("values"), py::arg("value_symbols"),
        py::arg("value_lengths"), py::arg("codebook"), py::arg("size"), py::arg("gaps") = py::none(),
        py::arg("gap_symbols") = 0, py::arg("gap_lengths") = py::none(), py::arg("index_bits") = 0,
        py::arg("out") = py::none(),
        "A weight-shared layer's `size` float32 weights: codebook[value] placed in order (dense) "
        "or by the gap stream (sparse). ValueError if the streams are corrupt or disagree.");
  m.def("decode_shared_nonzeros", &decode_nonzeros, py::arg("values"), py::arg("value_symbols"),
        py::arg("value_lengths"), py::arg("codebook"), py::arg("size"), py::arg("gaps"),
        py::arg("gap_symbols"), py::arg("gap_lengths"), py::arg("index_bits"),
        "A sparse weight-shared layer's non-zeros: (positions int32, values float32), positions "
        "ascending in the flattened weight.");
  testing.def("huffdec_ukernels", [] {
    return ukernel_rows(pp_u8_huffdec_ukernels(), [](py::dict& row, const auto& k) {
      row["lut_bits"] = k.lut_bits;
      row["symbols_per_lookup"] = k.symbols_per_lookup;
    });
  });
}

}  // namespace pyprune::bindings
