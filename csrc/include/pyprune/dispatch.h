// Run-time choice of instruction set and, per operator, of its microkernels.
#pragma once

#include <cstddef>
#include <vector>

#include "pyprune/ukernels.h"

enum pp_isa { pp_isa_scalar = 0, pp_isa_avx2 = 1, pp_isa_neon = 2 };

// Best ISA of this CPU, lowered by PYPRUNE_ISA=scalar|avx2|neon when set; detected once.
pp_isa pp_active_isa();
// ISAs whose kernels this build contains and this CPU can run (scalar always).
std::vector<pp_isa> pp_available_isas();
const char* pp_isa_name(pp_isa isa);

struct pp_f32_dwconv2d_chw_ukernel {
  const char* name;
  pp_isa isa;
  int kernel_size;
  int stride;
  size_t tile_rows;  // output rows per kernel iteration; the driver sizes strips by it
  size_t tile_cols;
  pp_f32_dwconv2d_chw_ukernel_fn fn;
};

struct pp_f32_gemm_ukernel {
  const char* name;
  pp_isa isa;
  size_t mr;  // output channels per kernel call; weights are packed in blocks of mr
  size_t nr;  // pixels per register tile
  pp_f32_gemm_ukernel_fn fn;
};

struct pp_f32_spmm_ukernel {
  const char* name;
  pp_isa isa;
  size_t mr;  // pixels per register tile
  size_t nr;  // output channels per weight block (the SparseMatrix block size)
  pp_f32_spmm_ukernel_fn fn;
};

struct pp_u8_huffdec_ukernel {
  const char* name;
  pp_isa isa;
  unsigned lut_bits;            // bits of the first-level table (0: bit by bit)
  unsigned symbols_per_lookup;  // most symbols one table lookup yields
  pp_u8_huffdec_ukernel_fn fn;
};

// The kernel the active ISA uses for this kernel size and stride, or nullptr if none.
const pp_f32_dwconv2d_chw_ukernel* pp_f32_dwconv2d_chw_config(int kernel_size, int stride);
// Every depthwise kernel in this build, for tests and benchmarks.
const std::vector<pp_f32_dwconv2d_chw_ukernel>& pp_f32_dwconv2d_chw_ukernels();

// The GEMM kernel of the active ISA (the reference if it has none).
const pp_f32_gemm_ukernel& pp_f32_gemm_config();
// Every GEMM kernel in this build, for tests and benchmarks.
const std::vector<pp_f32_gemm_ukernel>& pp_f32_gemm_ukernels();

// The SpMM kernel of the active ISA for weight blocks of nr channels (the reference if it has
// none), or nullptr for a block size no kernel supports.
const pp_f32_spmm_ukernel* pp_f32_spmm_config(size_t nr);
// Every SpMM kernel in this build, for tests and benchmarks.
const std::vector<pp_f32_spmm_ukernel>& pp_f32_spmm_ukernels();

// The Huffman decoder of the active ISA (the fastest scalar one if it has none).
const pp_u8_huffdec_ukernel& pp_u8_huffdec_config();
// Every Huffman decoder in this build, for tests and benchmarks.
const std::vector<pp_u8_huffdec_ukernel>& pp_u8_huffdec_ukernels();
