// Run-time choice of instruction set and, per operator, of its microkernels.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "pyprune/activation.h"
#include "pyprune/ukernels.h"

// avx512: AVX-512 F, BW, DQ and VL (with AVX2 and FMA).
enum pp_isa { pp_isa_scalar = 0, pp_isa_avx2 = 1, pp_isa_neon = 2, pp_isa_avx512 = 3 };

// Best ISA of this CPU, lowered by PYPRUNE_ISA=scalar|avx2|avx512|neon when set; detected once.
pp_isa pp_active_isa();
// ISAs whose kernels this build contains and this CPU can run, from the lowest (scalar,
// always) to the best: scalar < avx2 < avx512, or scalar < neon.
const std::vector<pp_isa>& pp_available_isas();
const char* pp_isa_name(pp_isa isa);
// Whether every core of this machine is an in-order Cortex-A53-class core (A53, A35, A55: the
// Raspberry Pi 3 and Zero 2 W), which run the GEMM's PP_IN_ORDER row; read once from the cores'
// MIDR_EL1 (Linux: sysfs for every core, else the current core's through the kernel's
// emulation of MRS). False elsewhere and when the cores cannot be read.
bool pp_in_order_cores();
// Whether MIDR_EL1 value `midr` names an in-order Cortex-A53-class core.
bool pp_in_order_midr(uint64_t midr);

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

struct pp_f32_dwconv2d_chw_same_ukernel {
  const char* name;
  pp_isa isa;
  int kernel_size;  // padding kernel_size / 2 on every side
  int stride;
  size_t tile_rows;  // output rows per register tile
  size_t tile_cols;
  bool production;   // the kernel its ISA runs for this (kernel_size, stride)
  size_t max_width;  // the widest input it runs (0: any); wider ones run the strip kernels
  pp_f32_dwconv2d_chw_same_ukernel_fn fn;
};

struct pp_f32_dwconv2d_taps_ukernel {
  const char* name;
  pp_isa isa;
  size_t tile_rows;  // output rows per register tile
  size_t tile_cols;
  bool production;   // the kernel its ISA runs
  pp_f32_dwconv2d_taps_ukernel_fn fn;
};

struct pp_f32_gemm_ukernel {
  const char* name;
  pp_isa isa;
  size_t mr;  // output channels per kernel call; weights are packed in blocks of mr
  size_t nr;  // pixels per register tile
  bool production;  // the kernel its ISA runs (on out-of-order cores, where it has an in_order row)
  bool strips;      // deep pointwise layers copy each task's panel into strips first (Conv2d)
  bool in_order;    // the kernel its ISA runs on in-order cores (PP_IN_ORDER)
  bool deep;        // the kernel its ISA runs for GEMMs of kPpDeepGemmDepth or more (PP_DEEP)
  pp_f32_gemm_ukernel_fn fn;
};

struct pp_f32_conv2d_3x3s2p1_ukernel {
  const char* name;
  pp_isa isa;
  size_t mr;  // output channels per call: the GEMM packing of this mr
  size_t nr;  // output columns per register tile
  bool production;  // the kernel its ISA runs
  size_t dense;     // run on dense convolutions of at most this many input channels
  size_t grouped;   // also run on the groups of grouped convolutions of at most this many input
                    // channels per group (where it beats their GEMM); 0: never
  pp_f32_conv2d_3x3s2p1_ukernel_fn fn;
};

struct pp_f32_conv2d_outvec_ukernel {
  const char* name;
  pp_isa isa;
  size_t mr;        // output pixels per call
  size_t nc;        // output channels per call: the weights' packing
  bool production;  // the kernel its ISA runs for groups of this many channels
  size_t speed;     // multiply-accumulates per second on full tiles, % of its ISA's fastest row
  pp_f32_conv2d_outvec_ukernel_fn fn;
};

struct pp_f32_gemv_ukernel {
  const char* name;
  pp_isa isa;
  size_t nr;        // outputs per weight panel
  bool production;  // the kernel its ISA runs
  pp_f32_gemv_ukernel_fn fn;
};

struct pp_f32_spmm_ukernel {
  const char* name;
  pp_isa isa;
  size_t mr;  // pixels per register tile
  size_t nr;  // output channels per weight block (the SparseMatrix block size)
  bool production;  // the kernel its ISA runs for blocks of nr
  pp_f32_spmm_ukernel_fn fn;
};

struct pp_f32_vbinary_ukernel {
  const char* name;
  pp_isa isa;
  pp_vbinary_op op;
  bool scalar_b;  // b is one value for the whole row
  size_t tile;    // floats per loop iteration
  bool production;  // the kernel its ISA runs for (op, scalar_b)
  pp_f32_vbinary_ukernel_fn fn;
};

struct pp_f32_rsum_ukernel {
  const char* name;
  pp_isa isa;
  size_t channel_tile;  // rows summed side by side
  bool production;      // the kernel its ISA runs
  pp_f32_rsum_ukernel_fn fn;
};

enum pp_rminmax_op { pp_rminmax_max, pp_rminmax_min };

struct pp_f32_rminmax_ukernel {
  const char* name;
  pp_isa isa;
  pp_rminmax_op op;
  size_t tile;      // floats per main-loop iteration
  bool production;  // the kernel its ISA runs for this op
  pp_f32_rminmax_ukernel_fn fn;
};

struct pp_f32_hpool_ukernel {
  const char* name;
  pp_isa isa;
  pp_hpool_op op;
  size_t kernel, stride;
  bool production;  // the kernel its ISA runs for (op, kernel, stride)
  pp_f32_hpool_ukernel_fn fn;
};

struct pp_f32_vunary_ukernel {
  const char* name;
  pp_isa isa;
  pyprune::ActivationKind kind;
  size_t tile;      // elements per main-loop iteration
  bool production;  // the kernel its ISA runs for this kind
  pp_f32_vunary_ukernel_fn fn;
};

struct pp_f32_vexpsum_ukernel {
  const char* name;
  pp_isa isa;
  size_t tile;      // elements per main-loop iteration
  bool production;  // the kernel its ISA runs
  pp_f32_vexpsum_ukernel_fn fn;
};

struct pp_f32_vmath_ukernel {
  const char* name;
  pp_isa isa;
  pp_vmath_op op;
  size_t tile;      // elements per main-loop iteration
  bool production;  // the kernel its ISA runs for this op
  pp_f32_vmath_ukernel_fn fn;
};

struct pp_f32_winograd_input_ukernel {
  const char* name;
  pp_isa isa;
  size_t tile;      // m: the output tile is m x m, the input patch (m + 2) x (m + 2)
  bool production;  // the kernel its ISA runs for this tile
  pp_f32_winograd_input_ukernel_fn fn;
};

struct pp_f32_winograd_output_ukernel {
  const char* name;
  pp_isa isa;
  size_t tile;      // m: the output tile is m x m
  bool production;  // the kernel its ISA runs for this tile
  pp_f32_winograd_output_ukernel_fn fn;
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
const std::vector<pp_f32_dwconv2d_chw_same_ukernel>& pp_f32_dwconv2d_chw_same_ukernels();
const std::vector<pp_f32_dwconv2d_taps_ukernel>& pp_f32_dwconv2d_taps_ukernels();
const std::vector<pp_f32_gemm_ukernel>& pp_f32_gemm_ukernels();
const std::vector<pp_f32_conv2d_3x3s2p1_ukernel>& pp_f32_conv2d_3x3s2p1_ukernels();
const std::vector<pp_f32_conv2d_outvec_ukernel>& pp_f32_conv2d_outvec_ukernels();
const std::vector<pp_f32_gemv_ukernel>& pp_f32_gemv_ukernels();
const std::vector<pp_f32_spmm_ukernel>& pp_f32_spmm_ukernels();
const std::vector<pp_f32_vunary_ukernel>& pp_f32_vunary_ukernels();
const std::vector<pp_f32_vexpsum_ukernel>& pp_f32_vexpsum_ukernels();
const std::vector<pp_f32_vmath_ukernel>& pp_f32_vmath_ukernels();
const std::vector<pp_f32_winograd_input_ukernel>& pp_f32_winograd_input_ukernels();
const std::vector<pp_f32_winograd_output_ukernel>& pp_f32_winograd_output_ukernels();
const std::vector<pp_u8_huffdec_ukernel>& pp_u8_huffdec_ukernels();
const std::vector<pp_f32_vbinary_ukernel>& pp_f32_vbinary_ukernels();
const std::vector<pp_f32_rsum_ukernel>& pp_f32_rsum_ukernels();
const std::vector<pp_f32_rminmax_ukernel>& pp_f32_rminmax_ukernels();
const std::vector<pp_f32_hpool_ukernel>& pp_f32_hpool_ukernels();

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
// The active ISA's own production "same"-padding depthwise kernel, else nullptr: the driver
// then runs the strip kernels (a lower ISA's row is not used in its place).
const pp_f32_dwconv2d_chw_same_ukernel* pp_f32_dwconv2d_chw_same_config(int kernel_size, int stride);
// The depthwise kernel of any window (the scalar reference at least).
const pp_f32_dwconv2d_taps_ukernel& pp_f32_dwconv2d_taps_config();
// Depths (the products' k) from which a GEMM runs its ISA's PP_DEEP row, where it has one.
constexpr size_t kPpDeepGemmDepth = 256;
// The GEMM kernel for products of `depth` (0: any depth; Winograd, matmul, attention).
const pp_f32_gemm_ukernel& pp_f32_gemm_config(size_t depth = 0);
// The active ISA's own production 3x3 stride-2 padding-1 kernel, else nullptr (im2col + GEMM).
const pp_f32_conv2d_3x3s2p1_ukernel* pp_f32_conv2d_3x3s2p1_config();
// The active ISA's own production row of output channels across lanes for groups of
// `group_outputs` output channels (the one wasting the least, weighed by speed), else nullptr
// (no rows, or a group narrower than all of them).
const pp_f32_conv2d_outvec_ukernel* pp_f32_conv2d_outvec_config(size_t group_outputs);
const pp_f32_gemv_ukernel& pp_f32_gemv_config();
const pp_f32_spmm_ukernel* pp_f32_spmm_config(size_t nr);
// The activation kernel of a kind (nullptr for ActivationKind::none), looked up once per kind.
const pp_f32_vunary_ukernel* pp_f32_vunary_config(pyprune::ActivationKind kind);
const pp_f32_winograd_input_ukernel* pp_f32_winograd_input_config(size_t tile);
const pp_f32_winograd_output_ukernel* pp_f32_winograd_output_config(size_t tile);
const pp_u8_huffdec_ukernel& pp_u8_huffdec_config();
const pp_f32_vbinary_ukernel& pp_f32_vbinary_config(pp_vbinary_op op, bool scalar_b);
const pp_f32_rsum_ukernel& pp_f32_rsum_config();
const pp_f32_rminmax_ukernel& pp_f32_rminmax_config(pp_rminmax_op op);
const pp_f32_vexpsum_ukernel& pp_f32_vexpsum_config();
const pp_f32_vmath_ukernel& pp_f32_vmath_config(pp_vmath_op op);
const pp_f32_hpool_ukernel* pp_f32_hpool_config(pp_hpool_op op, size_t kernel, size_t stride);
