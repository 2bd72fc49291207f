// matmul: torch.matmul. 1-D operands become a row (a) or a column (b) that the output drops;
// batch dims broadcast. Each product C (M x N) = A (M x K) B (K x N) runs on the production
// GEMM microkernel: A packed per block of mr rows (the kernel's weight layout, zero bias) in a
// per-thread buffer, B read in place. Tasks are (batch, block of rows, panel of columns); each
// output element is one kernel call over all of K, so results do not depend on the threads.
#include <algorithm>
#include <cstring>

#include "node_operator.h"
#include "packed_rows.h"
#include "pyprune/dispatch.h"
#include "pyprune/graph/factories.h"
#include "pyprune/shape.h"
#include "pyprune/threadpool.h"
#include "strided.h"

namespace pyprune::graph {
namespace {

// B panels of about this many bytes stay in cache while every block of A rows passes.
constexpr size_t kPanelBytes = 256 * 1024;

// The operands as batches of matrices: a (batch..., M, K), b (batch..., K, N).
struct Product {
  Dims a_batch, b_batch, batch;  // batch: the broadcast of a_batch and b_batch
  size_t m, k, n;
};

class MatMul final : public NodeOperator {
 public:
  explicit MatMul(const Attributes& attrs) : NodeOperator(attrs), gemm_(pp_f32_gemm_config()) { attrs.only({}); }

  std::vector<Dims> output_shapes(const std::vector<Dims>& inputs) const override {
    expect_inputs(inputs, 2, 2);
    const Dims& a = inputs[0];
    const Dims& b = inputs[1];
    if (a.empty() || b.empty()) fail("takes operands of rank 1 or more, got " + to_string(a) + " and " + to_string(b));
    const Product p = product(a, b);
    Dims y = p.batch;
    if (a.size() > 1) y.push_back(p.m);
    if (b.size() > 1) y.push_back(p.n);
    expect_size(y);
    return {y};
  }

  void run(const std::vector<const float*>& in, const std::vector<Dims>& in_shapes, const std::vector<float*>& out,
           const std::vector<Dims>&) const override {
    const Product p = product(in_shapes[0], in_shapes[1]);
    size_t batches = 1;
    for (size_t d : p.batch) batches *= d;
    if (batches == 0 || p.m == 0 || p.n == 0) return;
    if (p.k == 0) {
      std::fill(out[0], out[0] + batches * p.m * p.n, 0.0f);
      return;
    }
    // Each operand's matrix stride along every batch dim (0 where it is broadcast).
    const std::array<std::array<ptrdiff_t, kMaxRank>, 2> strides{broadcast_strides(p.a_batch, p.batch),
                                                                 broadcast_strides(p.b_batch, p.batch)};
    const size_t mr = gemm_.mr, blocks = pp_divide_round_up(p.m, mr);
    const size_t panel = std::min(p.n, std::max(gemm_.nr, kPanelBytes / (p.k * sizeof(float)) / gemm_.nr * gemm_.nr));
    const size_t panels = pp_divide_round_up(p.n, panel);
    parallel_for(batches * blocks * panels, [&](size_t t) {
      const size_t block = t % blocks, column = t / blocks % panels, batch = t / blocks / panels;
      const auto [a_matrix, b_matrix] = batch_matrices(batch, p.batch, strides);
      const float* a = in[0] + a_matrix * static_cast<ptrdiff_t>(p.m * p.k);
      const float* b = in[1] + b_matrix * static_cast<ptrdiff_t>(p.k * p.n);
      const size_t m0 = block * mr, rows = std::min(mr, p.m - m0);
      const size_t n0 = column * panel, columns = std::min(panel, p.n - n0);
      float* packed = pack_rows(a + m0 * p.k, rows, p.k, mr);
      gemm_.fn(rows, columns, p.k, b + n0, p.n * sizeof(float), packed, out[0] + (batch * p.m + m0) * p.n + n0,
               p.n * sizeof(float), &kPpUnclamped);
    });
  }

  std::string describe() const override { return std::string("matmul gemm ") + gemm_.name; }

  size_t macs(const std::vector<Dims>& inputs) const override {
    const Product p = product(inputs[0], inputs[1]);
    size_t batches = 1;
    for (size_t d : p.batch) batches *= d;
    return batches * p.m * p.n * p.k;
  }

 private:
  Product product(const Dims& a, const Dims& b) const {
    Product p;
    p.a_batch = a.size() > 2 ? Dims(a.begin(), a.end() - 2) : Dims{};
    p.b_batch = b.size() > 2 ? Dims(b.begin(), b.end() - 2) : Dims{};
    p.m = a.size() > 1 ? a[a.size() - 2] : 1;
    p.k = a.back();
    const size_t kb = b.size() > 1 ? b[b.size() - 2] : b[0];
    p.n = b.size() > 1 ? b.back() : 1;
    if (kb != p.k)
      fail("cannot multiply a of shape " + to_string(a) + " by b of shape " + to_string(b) + ": " +
           std::to_string(p.k) + " columns against " + std::to_string(kb) + " rows");
    const std::optional<Dims> batch = broadcast({p.a_batch, p.b_batch});
    if (!batch) fail("cannot broadcast the batch dims of a " + to_string(a) + " and b " + to_string(b));
    p.batch = *batch;
    return p;
  }

  const pp_f32_gemm_ukernel& gemm_;
};

}  // namespace

std::unique_ptr<Operator> make_matmul(const Attributes& attrs, const std::vector<const Constant*>&) {
  return std::make_unique<MatMul>(attrs);
}

}  // namespace pyprune::graph
