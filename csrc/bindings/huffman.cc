// Canonical Huffman decoding: raw blocks of u8 symbols, and weight-shared layers
// (pyprune/huffman.h) decoded into dense float weights or sparse (position, value) pairs, their
// code tables built once per layer. Corrupt input raises ValueError.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "arrays.h"
#include "pyprune/dispatch.h"
#include "pyprune/huffman.h"
#include "register.h"
#include "ukernel_rows.h"

namespace pyprune::bindings {

namespace {

std::vector<uint8_t> bytes_arg(const py::handle& obj, const char* name) {
  const py::array a = typed_array<uint8_t>(obj, name, 1, /*allow_empty=*/true);
  const uint8_t* p = static_cast<const uint8_t*>(a.data());
  return std::vector<uint8_t>(p, p + a.shape(0));
}

HuffmanBlock block_arg(const py::handle& data, const IntArg& symbols, const py::handle& lengths_obj, const char* name) {
  const py::array lengths = typed_array<uint8_t>(lengths_obj, (std::string(name) + " lengths").c_str(), 1, true);
  const int64_t n = int_arg(symbols.obj, "symbols");
  if (n < 0) value_error("symbols must not be negative, got " + std::to_string(n));
  return HuffmanBlock(bytes_arg(data, name), static_cast<size_t>(n), static_cast<const uint8_t*>(lengths.data()),
                      static_cast<size_t>(lengths.shape(0)), name);
}

py::array huffman_decode(const U8Arg& data, const IntArg& symbols, const U8Arg& lengths,
                         const std::optional<std::string>& ukernel_name) {
  const HuffmanBlock block = block_arg(data.obj, symbols, lengths.obj, "data");
  const pp_u8_huffdec_ukernel& ukernel =
      ukernel_name ? pp_find_ukernel(pp_u8_huffdec_ukernels(), *ukernel_name) : pp_u8_huffdec_config();
  py::array_t<uint8_t> out(static_cast<py::ssize_t>(block.symbols()));
  uint8_t* o = out.mutable_data();
  {
    py::gil_scoped_release release;
    block.decode(ukernel, PP_HUFFDEC_MAX_ALPHABET - 1, o);
  }
  return out;
}

SharedWeights shared_weights(const U8Arg& values, const IntArg& value_symbols, const U8Arg& value_lengths,
                             const F32Arg& codebook_arg, const IntArg& size, const OptionalU8Arg& gaps,
                             const IntArg& gap_symbols, const OptionalU8Arg& gap_lengths, const IntArg& index_bits) {
  const py::array codebook = float_array(codebook_arg.obj, "codebook", 1);
  const float* c = static_cast<const float*>(codebook.data());
  std::optional<HuffmanBlock> gap_block;
  if (!gaps.obj.is_none()) gap_block.emplace(block_arg(gaps.obj, gap_symbols, gap_lengths.obj, "gaps"));
  return SharedWeights(block_arg(values.obj, value_symbols, value_lengths.obj, "values"), std::move(gap_block),
                       static_cast<unsigned>(count_arg(index_bits.obj, "index_bits", 0)),
                       std::vector<float>(c, c + codebook.shape(0)), count_arg(size.obj, "size", 0));
}

py::array decode(const SharedWeights& w, const OptionalF32Arg& out_arg) {
  py::array out = output_array(out_arg.obj, {static_cast<py::ssize_t>(w.size())}, {});
  float* o = static_cast<float*>(out.mutable_data());
  {
    py::gil_scoped_release release;
    w.decode(pp_u8_huffdec_config(), o);
  }
  return out;
}

py::tuple nonzeros(const SharedWeights& w) {
  if (!w.sparse()) value_error("gaps must be given: only sparse layers have non-zeros to list");
  const auto n = static_cast<py::ssize_t>(w.nonzero_count());
  py::array_t<int32_t> positions(n);
  py::array_t<float> values(n);
  int32_t* p = positions.mutable_data();
  float* v = values.mutable_data();
  {
    py::gil_scoped_release release;
    w.nonzeros(pp_u8_huffdec_config(), p, v);
  }
  return py::make_tuple(positions, values);
}

}  // namespace

void register_huffman(py::module_& m, py::module_& testing) {
  m.def("huffman_decode", &huffman_decode, py::arg("data"), py::arg("symbols"), py::arg("lengths"),
        py::arg("ukernel") = py::none(),
        "Decodes a Huffman block (uint8) of `symbols` symbols coded with the canonical code of "
        "`lengths` (uint8, one per symbol). ValueError if the block is corrupt.");
  // Shared: a graph keeps the weights it was given alive (pyprune/graph/graph.h).
  py::class_<SharedWeights, std::shared_ptr<SharedWeights>>(m, "SharedWeights",
                            "A weight-shared layer's Huffman-coded streams, their code tables built once: "
                            "codebook[value] placed in order (dense) or by the gap stream (sparse).")
      .def(py::init(&shared_weights), py::arg("values"), py::arg("value_symbols"), py::arg("value_lengths"),
           py::arg("codebook"), py::arg("size"), py::arg("gaps") = py::none(), py::arg("gap_symbols") = 0,
           py::arg("gap_lengths") = py::none(), py::arg("index_bits") = 0)
      .def("decode", &decode, py::arg("out") = py::none(),
           "The `size` float32 weights. ValueError if the streams are corrupt or disagree.")
      .def("nonzeros", &nonzeros,
           "A sparse layer's non-zeros: (positions int32, values float32), positions ascending in the flattened "
           "weight.")
      .def_property_readonly("size", &SharedWeights::size)
      .def_property_readonly("sparse", &SharedWeights::sparse)
      .def_property_readonly("coded_bytes", &SharedWeights::coded_bytes);
  testing.def("huffdec_ukernels", [] {
    return ukernel_rows(pp_u8_huffdec_ukernels(), [](py::dict& row, const auto& k) {
      row["lut_bits"] = k.lut_bits;
      row["symbols_per_lookup"] = k.symbols_per_lookup;
    });
  });
}

}  // namespace pyprune::bindings
