// Reference f32 row pooling microkernels: the obvious loop (contract: ukernels.h).
#include "hpool.h"

namespace {

template <pp_hpool_op Op, size_t K, size_t S>
void hpool_ref(size_t n, size_t rows, size_t pad, const float* x, size_t x_stride, float* y) {
  PP_ASSERT(n >= 1 && rows >= 1 && pad <= K / 2);
  const size_t edge = pp_hpool_left_edge<Op, K, S>(n, rows, pad, x, x_stride, y);
  for (size_t o = edge; o < n; o++) y[o] = pp_hpool_output<Op, K, S>(rows, x + (edge * S - pad), x_stride, o - edge);
}

}  // namespace

PP_HPOOL_DEFINE(pp_f32_hpool_max_ukernel_3s2__ref, hpool_ref, max, 3, 2)
PP_HPOOL_DEFINE(pp_f32_hpool_max_ukernel_3s1__ref, hpool_ref, max, 3, 1)
PP_HPOOL_DEFINE(pp_f32_hpool_max_ukernel_5s1__ref, hpool_ref, max, 5, 1)
PP_HPOOL_DEFINE(pp_f32_hpool_max_ukernel_2s2__ref, hpool_ref, max, 2, 2)
PP_HPOOL_DEFINE(pp_f32_hpool_max_ukernel_2s1__ref, hpool_ref, max, 2, 1)
PP_HPOOL_DEFINE(pp_f32_hpool_sum_ukernel_3s2__ref, hpool_ref, sum, 3, 2)
PP_HPOOL_DEFINE(pp_f32_hpool_sum_ukernel_3s1__ref, hpool_ref, sum, 3, 1)
PP_HPOOL_DEFINE(pp_f32_hpool_sum_ukernel_5s1__ref, hpool_ref, sum, 5, 1)
PP_HPOOL_DEFINE(pp_f32_hpool_sum_ukernel_2s2__ref, hpool_ref, sum, 2, 2)
PP_HPOOL_DEFINE(pp_f32_hpool_sum_ukernel_2s1__ref, hpool_ref, sum, 2, 1)
