// cumsum: running sums along `axis`, as torch computes them on the CPU: in double, in order,
// each output rounded to float. The tensor is (outer, n, inner) around the axis; the sums run
// across `inner` positions at once (a scratch row of double accumulators per task).
#include <algorithm>
#include <string>
#include <vector>

#include "along_axis.h"
#include "parallel_rows.h"
#include "pyprune/graph/factories.h"

namespace pyprune::graph {
namespace {

class Cumsum final : public AlongAxis {
 public:
  explicit Cumsum(const Attributes& attrs) : AlongAxis(attrs) { attrs.only({"axis"}); }

  void run_along(const float* x, float* y, size_t outer, size_t n, size_t inner) const override {
    parallel_rows(outer, inner, [&](size_t first, size_t count, size_t begin, size_t end) {
      std::vector<double> sum(end - begin);
      for (size_t o = first; o < first + count; o++) {
        std::fill(sum.begin(), sum.end(), 0.0);
        for (size_t i = 0; i < n; i++) {
          const float* xi = x + (o * n + i) * inner + begin;
          float* yi = y + (o * n + i) * inner + begin;
          for (size_t j = 0; j < sum.size(); j++) {
            sum[j] += xi[j];
            yi[j] = static_cast<float>(sum[j]);
          }
        }
      }
    }, n);
  }

  std::string describe() const override { return "cumsum axis " + std::to_string(axis_); }
};

}  // namespace

std::unique_ptr<Operator> make_cumsum(const Attributes& attrs, const std::vector<const Constant*>&) {
  return std::make_unique<Cumsum>(attrs);
}

}  // namespace pyprune::graph
