// cumsum, cumprod: running sums or products along `axis`, as torch computes them on the CPU: in
// double, in order, each output rounded to float. The tensor is (outer, n, inner) around the
// axis; the scans run across `inner` positions at once (a scratch row of double accumulators per
// task).
#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "along_axis.h"
#include "parallel_rows.h"
#include "pyprune/graph/factories.h"

namespace pyprune::graph {
namespace {

// `combine` is std::plus or std::multiplies, `identity` its neutral element (0 or 1).
template <class Combine>
void scan(const float* x, float* y, size_t outer, size_t n, size_t inner, double identity, Combine combine) {
  parallel_rows(outer, inner, [&](size_t first, size_t count, size_t begin, size_t end) {
    std::vector<double> acc(end - begin);
    for (size_t o = first; o < first + count; o++) {
      std::fill(acc.begin(), acc.end(), identity);
      for (size_t i = 0; i < n; i++) {
        const float* xi = x + (o * n + i) * inner + begin;
        float* yi = y + (o * n + i) * inner + begin;
        for (size_t j = 0; j < acc.size(); j++) {
          acc[j] = combine(acc[j], static_cast<double>(xi[j]));
          yi[j] = static_cast<float>(acc[j]);
        }
      }
    }
  }, n);
}

class Scan final : public AlongAxis {
 public:
  Scan(const Attributes& attrs, const char* op, bool product) : AlongAxis(attrs), op_(op), product_(product) {
    attrs.only({"axis"});
  }

  void run_along(const float* x, float* y, size_t outer, size_t n, size_t inner) const override {
    if (product_) {
      scan(x, y, outer, n, inner, 1.0, std::multiplies<double>());
    } else {
      scan(x, y, outer, n, inner, 0.0, std::plus<double>());
    }
  }

  std::string describe() const override { return op_ + " axis " + std::to_string(axis_); }

 private:
  std::string op_;
  bool product_;
};

}  // namespace

std::unique_ptr<Operator> make_cumsum(const Attributes& attrs, const std::vector<const Constant*>&) {
  return std::make_unique<Scan>(attrs, "cumsum", false);
}

std::unique_ptr<Operator> make_cumprod(const Attributes& attrs, const std::vector<const Constant*>&) {
  return std::make_unique<Scan>(attrs, "cumprod", true);
}

}  // namespace pyprune::graph
