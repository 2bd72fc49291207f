// where: y = (a compare b) ? x : z elementwise, the four inputs broadcast together (numpy rules).
// torch.where(a > b, x, z), masked_fill and a comparison turned into a float mask all lower to
// it: the operator set has float tensors only, so the comparison is part of the node. Not on a
// hot path (detection heads' decoding, attention masks): one strided loop, rows run in parallel.
#include <algorithm>

#include "node_operator.h"
#include "parallel_rows.h"
#include "pyprune/graph/factories.h"
#include "strided.h"

namespace pyprune::graph {
namespace {

enum class Compare { gt, ge, lt, le, eq, ne };

const std::vector<std::string>& compare_names() {
  static const std::vector<std::string> names = {"gt", "ge", "lt", "le", "eq", "ne"};
  return names;
}

template <Compare C>
bool holds(float a, float b) {
  if constexpr (C == Compare::gt) return a > b;
  if constexpr (C == Compare::ge) return a >= b;
  if constexpr (C == Compare::lt) return a < b;
  if constexpr (C == Compare::le) return a <= b;
  if constexpr (C == Compare::eq) return a == b;
  if constexpr (C == Compare::ne) return a != b;  // NaN != anything, as in torch
}

class Where final : public NodeOperator {
 public:
  explicit Where(const Attributes& attrs) : NodeOperator(attrs) {
    attrs.only({"compare"});
    const std::string name = attrs.text("compare", compare_names());
    compare_ = static_cast<Compare>(std::find(compare_names().begin(), compare_names().end(), name) -
                                    compare_names().begin());
  }

  std::vector<Dims> output_shapes(const std::vector<Dims>& inputs) const override {
    expect_inputs(inputs, 4, 4);
    const std::optional<Dims> y = broadcast(inputs);
    if (!y) fail("cannot broadcast the inputs' shapes " + shapes(inputs));
    expect_size(*y);
    return {*y};
  }

  void run(const std::vector<const float*>& in, const std::vector<Dims>& in_shapes, const std::vector<float*>& out,
           const std::vector<Dims>& out_shapes) const override {
    switch (compare_) {
      case Compare::gt: return select<Compare::gt>(in, in_shapes, out[0], out_shapes[0]);
      case Compare::ge: return select<Compare::ge>(in, in_shapes, out[0], out_shapes[0]);
      case Compare::lt: return select<Compare::lt>(in, in_shapes, out[0], out_shapes[0]);
      case Compare::le: return select<Compare::le>(in, in_shapes, out[0], out_shapes[0]);
      case Compare::eq: return select<Compare::eq>(in, in_shapes, out[0], out_shapes[0]);
      case Compare::ne: return select<Compare::ne>(in, in_shapes, out[0], out_shapes[0]);
    }
  }

  std::string describe() const override { return "where " + compare_names()[static_cast<size_t>(compare_)]; }

 private:
  static std::string shapes(const std::vector<Dims>& inputs) {
    std::string text;
    for (const Dims& shape : inputs) text += (text.empty() ? "" : ", ") + to_string(shape);
    return text;
  }

  template <Compare C>
  static void select(const std::vector<const float*>& in, const std::vector<Dims>& in_shapes, float* y,
                     const Dims& space) {
    const StridedLoop<5> loop(space, {broadcast_strides(space, space), broadcast_strides(in_shapes[0], space),
                                      broadcast_strides(in_shapes[1], space), broadcast_strides(in_shapes[2], space),
                                      broadcast_strides(in_shapes[3], space)});
    if (loop.empty()) return;
    const ptrdiff_t sa = loop.inner_stride(1), sb = loop.inner_stride(2), sx = loop.inner_stride(3),
                    sz = loop.inner_stride(4);
    parallel_rows(loop.rows(), loop.inner(), [&](size_t row, size_t rows, size_t begin, size_t end) {
      loop.for_rows(row, rows, [&](const StridedLoop<5>::Offsets& at) {
        for (size_t i = begin; i < end; i++) {
          const ptrdiff_t j = static_cast<ptrdiff_t>(i);
          y[at[0] + j] = holds<C>(in[0][at[1] + j * sa], in[1][at[2] + j * sb]) ? in[2][at[3] + j * sx]
                                                                                 : in[3][at[4] + j * sz];
        }
      });
    });
  }

  Compare compare_;
};

}  // namespace

std::unique_ptr<Operator> make_where(const Attributes& attrs, const std::vector<const Constant*>&) {
  return std::make_unique<Where>(attrs);
}

}  // namespace pyprune::graph
