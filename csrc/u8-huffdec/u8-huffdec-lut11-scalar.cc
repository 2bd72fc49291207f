// Canonical Huffman decoder, 11-bit table, one symbol per lookup, 4 streams interleaved.
#include "huffdec-scalar.h"

PP_U8_HUFFDEC_SCALAR_UKERNEL(pp_u8_huffdec_ukernel_lut11__scalar, false)
