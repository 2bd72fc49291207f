// attention: softmax(q kt scale) v over the last dim, what matmul -> mul -> softmax -> matmul
// compute, by blocks of query rows: a block's scores (rows x S) live in a per-thread buffer in
// cache and are used there, never written out whole (at 1024 tokens and 4 heads the scores are
// 16 MiB, and the four separate passes over them are bound by memory). The scores' exponentials
// go unscaled into the second product, whose output rows are scaled by their 1 / sum after it
// (Ev values a row instead of S). q (..., L, E); kt (..., E, S), the keys transposed, as the
// GEMM reads its second operand; v (..., S, Ev); batch dims broadcast. The queries are scaled
// as they are packed; both products run on the production GEMM microkernel and each output row
// is one task's, so results do not depend on the threads.
#include <algorithm>
#include <cfloat>

#include "../ops/aligned_buffer.h"
#include "node_operator.h"
#include "packed_rows.h"
#include "pyprune/dispatch.h"
#include "pyprune/graph/factories.h"
#include "pyprune/shape.h"
#include "pyprune/threadpool.h"
#include "softmax_row.h"
#include "strided.h"

namespace pyprune::graph {
namespace {

// A block of query rows keeps its scores within about this many bytes (L2).
constexpr size_t kScoreBytes = 128 * 1024;

struct Sizes {
  Dims q_batch, kt_batch, v_batch, batch;  // batch: their broadcast
  size_t l, e, s, ev;
};

class Attention final : public NodeOperator {
 public:
  explicit Attention(const Attributes& attrs) : NodeOperator(attrs), gemm_(pp_f32_gemm_config()) {
    attrs.only({"scale"});
    scale_ = static_cast<float>(attrs.real("scale", -FLT_MAX, FLT_MAX, 1.0));
  }

  std::vector<Dims> output_shapes(const std::vector<Dims>& inputs) const override {
    expect_inputs(inputs, 3, 3);
    const Sizes z = sizes(inputs);
    Dims y = z.batch;
    y.push_back(z.l);
    y.push_back(z.ev);
    expect_size(y);
    return {y};
  }

  void run(const std::vector<const float*>& in, const std::vector<Dims>& in_shapes, const std::vector<float*>& out,
           const std::vector<Dims>&) const override {
    const Sizes z = sizes(in_shapes);
    const size_t batches = span(z.batch, 0, z.batch.size());
    if (batches == 0 || z.l == 0 || z.ev == 0) return;
    if (z.s == 0) {  // no keys: an empty weighted sum
      std::fill(out[0], out[0] + batches * z.l * z.ev, 0.0f);
      return;
    }
    const std::array<std::array<ptrdiff_t, kMaxRank>, 3> strides{
        broadcast_strides(z.q_batch, z.batch), broadcast_strides(z.kt_batch, z.batch), broadcast_strides(z.v_batch, z.batch)};
    const size_t mr = gemm_.mr;
    const size_t rows = std::min(pp_round_up(z.l, mr), std::max<size_t>(1, kScoreBytes / (z.s * sizeof(float)) / mr) * mr);
    const size_t blocks = pp_divide_round_up(z.l, rows);
    parallel_for(batches * blocks, [&](size_t t) {
      const size_t block = t % blocks, batch = t / blocks;
      const auto [q_matrix, kt_matrix, v_matrix] = batch_matrices(batch, z.batch, strides);
      const float* q = in[0] + q_matrix * static_cast<ptrdiff_t>(z.l * z.e);
      const float* kt = in[1] + kt_matrix * static_cast<ptrdiff_t>(z.e * z.s);
      const float* v = in[2] + v_matrix * static_cast<ptrdiff_t>(z.s * z.ev);
      const size_t first = block * rows, count = std::min(rows, z.l - first);
      thread_local AlignedBuffer buffer;
      buffer.reserve(count * z.s);
      float* scores = buffer.data();
      for (size_t r = 0; r < count; r += mr) {
        const size_t n = std::min(mr, count - r);
        if (z.e == 0) {  // no features: every score 0
          std::fill(scores + r * z.s, scores + (r + n) * z.s, 0.0f);
          continue;
        }
        float* packed = pack_rows(q + (first + r) * z.e, n, z.e, mr);
        if (scale_ != 1.0f)
          for (float *p = packed + mr, *end = p + mr * z.e; p < end; p++) *p *= scale_;
        gemm_.fn(n, z.s, z.e, kt, z.s * sizeof(float), packed, scores + r * z.s, z.s * sizeof(float), &kPpUnclamped);
      }
      thread_local AlignedBuffer sums;
      sums.reserve(count);
      for (size_t r = 0; r < count; r++)
        sums.data()[r] = softmax_row_.exponentials(scores + r * z.s, scores + r * z.s, z.s);
      float* y = out[0] + (batch * z.l + first) * z.ev;
      for (size_t r = 0; r < count; r += mr) {
        const size_t n = std::min(mr, count - r);
        const float* packed = pack_rows(scores + r * z.s, n, z.s, mr);
        gemm_.fn(n, z.ev, z.s, v, z.ev * sizeof(float), packed, y + r * z.ev, z.ev * sizeof(float), &kPpUnclamped);
      }
      for (size_t r = 0; r < count; r++) {
        const float scale = 1.0f / sums.data()[r];
        row_scale_.fn(z.ev, y + r * z.ev, &scale, y + r * z.ev, &kPpUnclamped);
      }
    });
  }

  std::string describe() const override {
    return std::string("attention by blocks of query rows, gemm ") + gemm_.name +
           (scale_ != 1.0f ? ", scale " + std::to_string(scale_) : "");
  }

  size_t macs(const std::vector<Dims>& inputs) const override {
    const Sizes z = sizes(inputs);
    return span(z.batch, 0, z.batch.size()) * z.l * z.s * (z.e + z.ev);
  }

 private:
  Sizes sizes(const std::vector<Dims>& in) const {
    const Dims &q = in[0], &kt = in[1], &v = in[2];
    if (q.size() < 2 || kt.size() < 2 || v.size() < 2)
      fail("takes q, kt and v of rank 2 or more, got " + to_string(q) + ", " + to_string(kt) + " and " + to_string(v));
    Sizes z;
    z.q_batch = Dims(q.begin(), q.end() - 2);
    z.kt_batch = Dims(kt.begin(), kt.end() - 2);
    z.v_batch = Dims(v.begin(), v.end() - 2);
    z.l = q[q.size() - 2], z.e = q.back(), z.s = kt.back(), z.ev = v.back();
    if (kt[kt.size() - 2] != z.e)
      fail("q " + to_string(q) + " has " + std::to_string(z.e) + " features, kt " + to_string(kt) + " " +
           std::to_string(kt[kt.size() - 2]));
    if (v[v.size() - 2] != z.s)
      fail("kt " + to_string(kt) + " has " + std::to_string(z.s) + " keys, v " + to_string(v) + " " +
           std::to_string(v[v.size() - 2]));
    const std::optional<Dims> batch = broadcast({z.q_batch, z.kt_batch, z.v_batch});
    if (!batch) fail("cannot broadcast the batch dims of q " + to_string(q) + ", kt " + to_string(kt) + " and v " + to_string(v));
    z.batch = *batch;
    return z;
  }

  const pp_f32_gemm_ukernel& gemm_;
  float scale_;
  const SoftmaxRow softmax_row_;
  const pp_f32_vbinary_ukernel& row_scale_ = pp_f32_vbinary_config(pp_vbinary_mul, true);
};

}  // namespace

std::unique_ptr<Operator> make_attention(const Attributes& attrs, const std::vector<const Constant*>&) {
  return std::make_unique<Attention>(attrs);
}

}  // namespace pyprune::graph
