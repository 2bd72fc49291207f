// cumsum, cumprod, logcumsumexp: running sums, products or log-sums of exponentials along
// `axis`, as torch computes them on the CPU: in double, in order, each output rounded to float;
// log(exp(a) + exp(b)) as the larger plus log1p(exp(-|a - b|)), so no exponential overflows. The
// tensor is (outer, n, inner) around the axis; the scans run across `inner` positions at once (a
// scratch row of double accumulators per task).
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "along_axis.h"
#include "parallel_rows.h"
#include "pyprune/graph/factories.h"

namespace pyprune::graph {
namespace {

// log(exp(a) + exp(b)); NaN from either side, -inf the neutral element.
double log_add_exp(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<double>::quiet_NaN();
  if (std::isinf(a) || std::isinf(b)) return std::max(a, b);  // -inf leaves the other; +inf wins
  return std::max(a, b) + std::log1p(std::exp(-std::fabs(a - b)));
}

// `combine` is std::plus, std::multiplies or log_add_exp, `identity` its neutral element.
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

enum class Kind { sum, product, log_sum_exp };

class Scan final : public AlongAxis {
 public:
  Scan(const Attributes& attrs, const char* op, Kind kind) : AlongAxis(attrs), op_(op), kind_(kind) {
    attrs.only({"axis"});
  }

  void run_along(const float* x, float* y, size_t outer, size_t n, size_t inner) const override {
    switch (kind_) {
      case Kind::sum: scan(x, y, outer, n, inner, 0.0, std::plus<double>()); break;
      case Kind::product: scan(x, y, outer, n, inner, 1.0, std::multiplies<double>()); break;
      case Kind::log_sum_exp:
        scan(x, y, outer, n, inner, -std::numeric_limits<double>::infinity(), log_add_exp);
        break;
    }
  }

  std::string describe() const override { return op_ + " axis " + std::to_string(axis_); }

 private:
  std::string op_;
  Kind kind_;
};

}  // namespace

std::unique_ptr<Operator> make_cumsum(const Attributes& attrs, const std::vector<const Constant*>&) {
  return std::make_unique<Scan>(attrs, "cumsum", Kind::sum);
}

std::unique_ptr<Operator> make_cumprod(const Attributes& attrs, const std::vector<const Constant*>&) {
  return std::make_unique<Scan>(attrs, "cumprod", Kind::product);
}

std::unique_ptr<Operator> make_logcumsumexp(const Attributes& attrs, const std::vector<const Constant*>&) {
  return std::make_unique<Scan>(attrs, "logcumsumexp", Kind::log_sum_exp);
}

}  // namespace pyprune::graph
