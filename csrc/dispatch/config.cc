// Per-operator microkernel tables, built once from the operator lists (*.inc).
#include "pyprune/dispatch.h"

const std::vector<pp_f32_dwconv2d_chw_ukernel>& pp_f32_dwconv2d_chw_ukernels() {
  static const std::vector<pp_f32_dwconv2d_chw_ukernel> all = {
#define PP_UKERNEL(isa, name, kernel_size, stride, tile_rows, tile_cols) \
  {#name, isa, kernel_size, stride, tile_rows, tile_cols, name},
#include "../f32-dwconv2d-chw/f32-dwconv2d-chw.inc"
#undef PP_UKERNEL
  };
  return all;
}

const pp_f32_dwconv2d_chw_ukernel* pp_f32_dwconv2d_chw_config(int kernel_size, int stride) {
  const pp_isa isa = pp_active_isa();
  const pp_f32_dwconv2d_chw_ukernel* fallback = nullptr;
  for (const auto& k : pp_f32_dwconv2d_chw_ukernels()) {
    if (k.kernel_size != kernel_size || k.stride != stride) continue;
    if (k.isa == isa) return &k;
    if (k.isa == pp_isa_scalar && fallback == nullptr) fallback = &k;
  }
  return fallback;
}
