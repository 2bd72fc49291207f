// Per-operator microkernel tables, built once from the operator lists (*.inc), and the
// production kernel of each case.
#include "pyprune/dispatch.h"

#include <algorithm>

const std::vector<pp_f32_dwconv2d_chw_ukernel>& pp_f32_dwconv2d_chw_ukernels() {
  static const std::vector<pp_f32_dwconv2d_chw_ukernel> all = {
#define PP_DWCONV2D_UKERNEL(isa, name, kernel_size, stride, tile_rows, tile_cols, production) \
  {#name, isa, kernel_size, stride, tile_rows, tile_cols, production, name},
#include "../f32-dwconv2d-chw/f32-dwconv2d-chw.inc"
#undef PP_DWCONV2D_UKERNEL
  };
  return all;
}

const std::vector<pp_f32_dwconv2d_chw_same_ukernel>& pp_f32_dwconv2d_chw_same_ukernels() {
  static const std::vector<pp_f32_dwconv2d_chw_same_ukernel> all = {
#define PP_DWCONV2D_SAME_UKERNEL(isa, name, kernel_size, stride, tile_rows, tile_cols, production, max_width) \
  {#name, isa, kernel_size, stride, tile_rows, tile_cols, production, max_width, name},
#include "../f32-dwconv2d-chw/f32-dwconv2d-chw-same.inc"
#undef PP_DWCONV2D_SAME_UKERNEL
  };
  return all;
}

const std::vector<pp_f32_dwconv2d_taps_ukernel>& pp_f32_dwconv2d_taps_ukernels() {
  static const std::vector<pp_f32_dwconv2d_taps_ukernel> all = {
#define PP_DWCONV2D_TAPS_UKERNEL(isa, name, tile_rows, tile_cols, production) \
  {#name, isa, tile_rows, tile_cols, production, name},
#include "../f32-dwconv2d-taps/f32-dwconv2d-taps.inc"
#undef PP_DWCONV2D_TAPS_UKERNEL
  };
  return all;
}

const std::vector<pp_f32_gemm_ukernel>& pp_f32_gemm_ukernels() {
  static const std::vector<pp_f32_gemm_ukernel> all = {
#define PP_GEMM_UKERNEL(isa, name, mr, nr, production, strips) \
  {#name, isa, mr, nr, (production) == PP_PRODUCTION, strips, (production) == PP_IN_ORDER, \
   (production) == PP_DEEP, name},
#include "../f32-gemm/f32-gemm.inc"
#undef PP_GEMM_UKERNEL
  };
  return all;
}

const std::vector<pp_f32_conv2d_3x3s2p1_ukernel>& pp_f32_conv2d_3x3s2p1_ukernels() {
  static const std::vector<pp_f32_conv2d_3x3s2p1_ukernel> all = {
#define PP_CONV2D_3X3S2P1_UKERNEL(isa, name, mr, nr, production, dense, grouped) \
  {#name, isa, mr, nr, production, dense, grouped, name},
#include "../f32-conv2d-3x3s2p1/f32-conv2d-3x3s2p1.inc"
#undef PP_CONV2D_3X3S2P1_UKERNEL
  };
  return all;
}

const std::vector<pp_f32_conv2d_outvec_ukernel>& pp_f32_conv2d_outvec_ukernels() {
  static const std::vector<pp_f32_conv2d_outvec_ukernel> all = {
#define PP_CONV2D_OUTVEC_UKERNEL(isa, name, mr, nc, production, speed) {#name, isa, mr, nc, production, speed, name},
#include "../f32-conv2d-outvec/f32-conv2d-outvec.inc"
#undef PP_CONV2D_OUTVEC_UKERNEL
  };
  return all;
}

const std::vector<pp_f32_gemv_ukernel>& pp_f32_gemv_ukernels() {
  static const std::vector<pp_f32_gemv_ukernel> all = {
#define PP_GEMV_UKERNEL(isa, name, nr, production) {#name, isa, nr, production, name},
#include "../f32-gemv/f32-gemv.inc"
#undef PP_GEMV_UKERNEL
  };
  return all;
}

const std::vector<pp_f32_spmm_ukernel>& pp_f32_spmm_ukernels() {
  static const std::vector<pp_f32_spmm_ukernel> all = {
#define PP_SPMM_UKERNEL(isa, name, mr, nr, production) {#name, isa, mr, nr, production, name},
#include "../f32-spmm/f32-spmm.inc"
#undef PP_SPMM_UKERNEL
  };
  return all;
}

const std::vector<pp_f32_vunary_ukernel>& pp_f32_vunary_ukernels() {
  static const std::vector<pp_f32_vunary_ukernel> all = {
#define PP_VUNARY_UKERNEL(isa, name, kind, tile, production) \
  {#name, isa, pyprune::ActivationKind::kind, tile, production, name},
#include "../f32-vunary/f32-vunary.inc"
#undef PP_VUNARY_UKERNEL
  };
  return all;
}

const std::vector<pp_f32_vmath_ukernel>& pp_f32_vmath_ukernels() {
  static const std::vector<pp_f32_vmath_ukernel> all = {
#define PP_VMATH_UKERNEL(isa, name, op, tile, production) {#name, isa, pp_vmath_##op, tile, production, name},
#include "../f32-vunary/f32-vmath.inc"
#undef PP_VMATH_UKERNEL
  };
  return all;
}

const std::vector<pp_f32_vexpsum_ukernel>& pp_f32_vexpsum_ukernels() {
  static const std::vector<pp_f32_vexpsum_ukernel> all = {
#define PP_VEXPSUM_UKERNEL(isa, name, tile, production) {#name, isa, tile, production, name},
#include "../f32-vunary/f32-vexpsum.inc"
#undef PP_VEXPSUM_UKERNEL
  };
  return all;
}

const std::vector<pp_f32_winograd_input_ukernel>& pp_f32_winograd_input_ukernels() {
  static const std::vector<pp_f32_winograd_input_ukernel> all = {
#define PP_WINOGRAD_INPUT_UKERNEL(isa, name, tile, production) {#name, isa, tile, production, name},
#include "../f32-winograd/f32-winograd-input.inc"
#undef PP_WINOGRAD_INPUT_UKERNEL
  };
  return all;
}

const std::vector<pp_f32_winograd_output_ukernel>& pp_f32_winograd_output_ukernels() {
  static const std::vector<pp_f32_winograd_output_ukernel> all = {
#define PP_WINOGRAD_OUTPUT_UKERNEL(isa, name, tile, production) {#name, isa, tile, production, name},
#include "../f32-winograd/f32-winograd-output.inc"
#undef PP_WINOGRAD_OUTPUT_UKERNEL
  };
  return all;
}

const std::vector<pp_u8_huffdec_ukernel>& pp_u8_huffdec_ukernels() {
  static const std::vector<pp_u8_huffdec_ukernel> all = {
#define PP_HUFFDEC_UKERNEL(isa, name, lut_bits, symbols_per_lookup, production) \
  {#name, isa, lut_bits, symbols_per_lookup, production, name},
#include "../u8-huffdec/u8-huffdec.inc"
#undef PP_HUFFDEC_UKERNEL
  };
  return all;
}

const std::vector<pp_f32_vbinary_ukernel>& pp_f32_vbinary_ukernels() {
  static const std::vector<pp_f32_vbinary_ukernel> all = {
#define PP_VBINARY_UKERNEL(isa, name, op, scalar_b, tile, production) \
  {#name, isa, pp_vbinary_##op, scalar_b != 0, tile, production, name},
#include "../f32-vbinary/f32-vbinary.inc"
#undef PP_VBINARY_UKERNEL
  };
  return all;
}

const std::vector<pp_f32_rsum_ukernel>& pp_f32_rsum_ukernels() {
  static const std::vector<pp_f32_rsum_ukernel> all = {
#define PP_RSUM_UKERNEL(isa, name, channel_tile, production) {#name, isa, channel_tile, production, name},
#include "../f32-rsum/f32-rsum.inc"
#undef PP_RSUM_UKERNEL
  };
  return all;
}

const std::vector<pp_f32_rminmax_ukernel>& pp_f32_rminmax_ukernels() {
  static const std::vector<pp_f32_rminmax_ukernel> all = {
#define PP_RMINMAX_UKERNEL(isa, name, op, tile, production) {#name, isa, pp_rminmax_##op, tile, production, name},
#include "../f32-rminmax/f32-rminmax.inc"
#undef PP_RMINMAX_UKERNEL
  };
  return all;
}

const std::vector<pp_f32_hpool_ukernel>& pp_f32_hpool_ukernels() {
  static const std::vector<pp_f32_hpool_ukernel> all = {
#define PP_HPOOL_UKERNEL(isa, name, op, kernel, stride, production) \
  {#name, isa, pp_hpool_##op, kernel, stride, production, name},
#include "../f32-hpool/f32-hpool.inc"
#undef PP_HPOOL_UKERNEL
  };
  return all;
}

const pp_f32_dwconv2d_chw_ukernel* pp_f32_dwconv2d_chw_config(int kernel_size, int stride) {
  return pp_production_ukernel(pp_f32_dwconv2d_chw_ukernels(), [&](const pp_f32_dwconv2d_chw_ukernel& k) {
    return k.kernel_size == kernel_size && k.stride == stride;
  });
}

const pp_f32_dwconv2d_chw_same_ukernel* pp_f32_dwconv2d_chw_same_config(int kernel_size, int stride) {
  for (const auto& k : pp_f32_dwconv2d_chw_same_ukernels())
    if (k.production && k.isa == pp_active_isa() && k.kernel_size == kernel_size && k.stride == stride) return &k;
  return nullptr;
}

const pp_f32_dwconv2d_taps_ukernel& pp_f32_dwconv2d_taps_config() {
  static const pp_f32_dwconv2d_taps_ukernel* chosen =
      pp_production_ukernel(pp_f32_dwconv2d_taps_ukernels(), [](const pp_f32_dwconv2d_taps_ukernel&) { return true; });
  return *chosen;
}

const pp_f32_gemm_ukernel& pp_f32_gemm_config(size_t depth) {
  static const pp_f32_gemm_ukernel* chosen = []() -> const pp_f32_gemm_ukernel* {
    if (pp_in_order_cores())
      for (const auto& k : pp_f32_gemm_ukernels())
        if (k.in_order && k.isa == pp_active_isa()) return &k;
    return pp_production_ukernel(pp_f32_gemm_ukernels(), [](const pp_f32_gemm_ukernel&) { return true; });
  }();
  static const pp_f32_gemm_ukernel* deep = []() -> const pp_f32_gemm_ukernel* {
    if (!pp_in_order_cores())
      for (const auto& k : pp_f32_gemm_ukernels())
        if (k.deep && k.isa == pp_active_isa()) return &k;
    return chosen;
  }();
  return depth >= kPpDeepGemmDepth ? *deep : *chosen;
}

const pp_f32_conv2d_3x3s2p1_ukernel* pp_f32_conv2d_3x3s2p1_config() {
  for (const auto& k : pp_f32_conv2d_3x3s2p1_ukernels())
    if (k.production && k.isa == pp_active_isa()) return &k;
  return nullptr;
}

const pp_f32_conv2d_outvec_ukernel* pp_f32_conv2d_outvec_config(size_t group_outputs) {
  const pp_f32_conv2d_outvec_ukernel* best = nullptr;
  double best_cost = 0.0;
  size_t narrowest = SIZE_MAX;
  for (const auto& k : pp_f32_conv2d_outvec_ukernels()) {
    if (!k.production || k.isa != pp_active_isa()) continue;
    narrowest = std::min(narrowest, k.nc);
    // Time per group: its channels rounded up to the row's, at the row's speed.
    const double cost = static_cast<double>(pp_round_up(group_outputs, k.nc)) / static_cast<double>(k.speed);
    if (best == nullptr || cost < best_cost) best = &k, best_cost = cost;
  }
  // A group narrower than every row would waste most of a vector: the GEMM runs it (AVX-512, 8
  // channels per group on the 12x16 row: 0.77x its time).
  return group_outputs < narrowest ? nullptr : best;
}

const pp_f32_gemv_ukernel& pp_f32_gemv_config() {
  static const pp_f32_gemv_ukernel* chosen =
      pp_production_ukernel(pp_f32_gemv_ukernels(), [](const pp_f32_gemv_ukernel&) { return true; });
  return *chosen;
}

const pp_f32_spmm_ukernel* pp_f32_spmm_config(size_t nr) {
  return pp_production_ukernel(pp_f32_spmm_ukernels(), [&](const pp_f32_spmm_ukernel& k) { return k.nr == nr; });
}

const pp_f32_winograd_input_ukernel* pp_f32_winograd_input_config(size_t tile) {
  return pp_production_ukernel(pp_f32_winograd_input_ukernels(),
                               [&](const pp_f32_winograd_input_ukernel& k) { return k.tile == tile; });
}

const pp_f32_winograd_output_ukernel* pp_f32_winograd_output_config(size_t tile) {
  return pp_production_ukernel(pp_f32_winograd_output_ukernels(),
                               [&](const pp_f32_winograd_output_ukernel& k) { return k.tile == tile; });
}

const pp_u8_huffdec_ukernel& pp_u8_huffdec_config() {
  static const pp_u8_huffdec_ukernel* chosen =
      pp_production_ukernel(pp_u8_huffdec_ukernels(), [](const pp_u8_huffdec_ukernel&) { return true; });
  return *chosen;
}

const pp_f32_vbinary_ukernel& pp_f32_vbinary_config(pp_vbinary_op op, bool scalar_b) {
  // Every (op, scalar_b) of the list has a scalar production row (test_ukernel_tables.py).
  return *pp_production_ukernel(pp_f32_vbinary_ukernels(), [&](const pp_f32_vbinary_ukernel& k) {
    return k.op == op && k.scalar_b == scalar_b;
  });
}

const pp_f32_rsum_ukernel& pp_f32_rsum_config() {
  static const pp_f32_rsum_ukernel* chosen =
      pp_production_ukernel(pp_f32_rsum_ukernels(), [](const pp_f32_rsum_ukernel&) { return true; });
  return *chosen;
}

const pp_f32_rminmax_ukernel& pp_f32_rminmax_config(pp_rminmax_op op) {
  // Both ops have a scalar production row (test_ukernel_tables.py).
  return *pp_production_ukernel(pp_f32_rminmax_ukernels(), [&](const pp_f32_rminmax_ukernel& k) { return k.op == op; });
}

const pp_f32_vexpsum_ukernel& pp_f32_vexpsum_config() {
  static const pp_f32_vexpsum_ukernel* chosen =
      pp_production_ukernel(pp_f32_vexpsum_ukernels(), [](const pp_f32_vexpsum_ukernel&) { return true; });
  return *chosen;
}

const pp_f32_vmath_ukernel& pp_f32_vmath_config(pp_vmath_op op) {
  // Every op of the list has a scalar production row (test_ukernel_tables.py).
  return *pp_production_ukernel(pp_f32_vmath_ukernels(), [&](const pp_f32_vmath_ukernel& k) { return k.op == op; });
}

const pp_f32_hpool_ukernel* pp_f32_hpool_config(pp_hpool_op op, size_t kernel, size_t stride) {
  return pp_production_ukernel(pp_f32_hpool_ukernels(), [&](const pp_f32_hpool_ukernel& k) {
    return k.op == op && k.kernel == kernel && k.stride == stride;
  });
}

const pp_f32_vunary_ukernel* pp_f32_vunary_config(pyprune::ActivationKind kind) {
  static const std::vector<const pp_f32_vunary_ukernel*> by_kind = [] {
    std::vector<const pp_f32_vunary_ukernel*> chosen(pyprune::kActivationKinds, nullptr);
    for (size_t k = 0; k < chosen.size(); k++)
      chosen[k] = pp_production_ukernel(pp_f32_vunary_ukernels(), [&](const pp_f32_vunary_ukernel& u) {
        return u.kind == static_cast<pyprune::ActivationKind>(k);
      });
    return chosen;
  }();
  return by_kind[static_cast<size_t>(kind)];
}
