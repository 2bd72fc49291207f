// Run-time choice of instruction set and, per operator, of its microkernels.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

#include "pyprune/ukernels.h"

// avx512: AVX-512 F, BW, DQ and VL (with AVX2 and FMA).
enum pp_isa { pp_isa_scalar = 0, pp_isa_avx2 = 1, pp_isa_neon = 2, pp_isa_avx512 = 3 };

// Best ISA of this CPU, lowered by PYPRUNE_ISA=scalar|avx2|avx512|neon when set; detected once.
pp_isa pp_active_isa();
// ISAs whose kernels this build contains and this CPU can run, from the lowest (scalar,
// always) to the best: scalar < avx2 < avx512, or scalar < neon.
const std::vector<pp_isa>& pp_available_isas();
const char* pp_isa_name(pp_isa isa);

struct pp_f32_dwconv2d_chw_ukernel {
  const char* name;
  pp_isa isa;
  int kernel_size;
  int stride;
  size_t tile_rows;  // output rows per kernel iteration; the driver sizes strips by it
  size_t tile_cols;
  bool production;   // the kernel its ISA runs for this (kernel_size, stride)
  pp_f32_dwconv2d_chw_ukernel_fn fn;
};

struct pp_f32_gemm_ukernel {
  const char* name;
  pp_isa isa;
  size_t mr;  // output channels per kernel call; weights are packed in blocks of mr
  size_t nr;  // pixels per register tile
  bool production;  // the kernel its ISA runs
  pp_f32_gemm_ukernel_fn fn;
};

struct pp_f32_spmm_ukernel {
  const char* name;
  pp_isa isa;
  size_t mr;  // pixels per register tile
  size_t nr;  // output channels per weight block (the SparseMatrix block size)
  bool production;  // the kernel its ISA runs for blocks of nr
  pp_f32_spmm_ukernel_fn fn;
};

struct pp_u8_huffdec_ukernel {
  const char* name;
  pp_isa isa;
  unsigned lut_bits;            // bits of the first-level table (0: bit by bit)
  unsigned symbols_per_lookup;  // most symbols one table lookup yields
  bool production;              // the decoder its ISA runs
  pp_u8_huffdec_ukernel_fn fn;
};

// Every kernel of an operator list, in list order, for tests and benchmarks.
const std::vector<pp_f32_dwconv2d_chw_ukernel>& pp_f32_dwconv2d_chw_ukernels();
const std::vector<pp_f32_gemm_ukernel>& pp_f32_gemm_ukernels();
const std::vector<pp_f32_spmm_ukernel>& pp_f32_spmm_ukernels();
const std::vector<pp_u8_huffdec_ukernel>& pp_u8_huffdec_ukernels();

// The production kernel for a case (`fits`) of the active ISA, else of the next lower available
// ISA that has one (an AVX-512 CPU without an avx512 row for the case runs the avx2 row), down
// to scalar, else nullptr: the row's production flag decides, never its place in the list.
template <class Ukernel, class Fits>
const Ukernel* pp_production_ukernel(const std::vector<Ukernel>& table, Fits fits) {
  const std::vector<pp_isa>& available = pp_available_isas();
  const pp_isa active = pp_active_isa();
  bool below_active = false;
  for (auto isa = available.rbegin(); isa != available.rend(); ++isa) {
    below_active = below_active || *isa == active;
    if (!below_active) continue;
    for (const Ukernel& k : table)
      if (k.production && k.isa == *isa && fits(k)) return &k;
  }
  return nullptr;
}

// The row called `name`; std::invalid_argument if there is none or this CPU cannot run it.
template <class Ukernel>
const Ukernel& pp_find_ukernel(const std::vector<Ukernel>& table, const std::string& name) {
  for (const Ukernel& k : table) {
    if (name != k.name) continue;
    for (pp_isa isa : pp_available_isas())
      if (isa == k.isa) return k;
    throw std::invalid_argument("ukernel " + name + " needs " + pp_isa_name(k.isa) + ", which this CPU lacks");
  }
  throw std::invalid_argument("unknown ukernel: " + name);
}

// The production kernels of the active ISA (nullptr where no kernel takes the case).
const pp_f32_dwconv2d_chw_ukernel* pp_f32_dwconv2d_chw_config(int kernel_size, int stride);
const pp_f32_gemm_ukernel& pp_f32_gemm_config();
const pp_f32_spmm_ukernel* pp_f32_spmm_config(size_t nr);
const pp_u8_huffdec_ukernel& pp_u8_huffdec_config();
