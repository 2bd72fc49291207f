// unary: elementwise math (sqrt, rsqrt, exp, log, abs, neg, reciprocal, pow with `exponent`,
// erf, erfc, erfinv, sin, cos, tan, atan, asin, acos, sinh, cosh, asinh, acosh, atanh, floor, ceil, round,
// trunc, sign, expm1, log1p, exp2, log2, log10) with torch's values:
// pow takes torch's exact shortcuts for the common exponents, round goes half to even, sign of
// NaN is 0. exp, expm1, log and log1p run on the vector math microkernels (f32-vmath.inc), the
// rest through libm.
#include <cmath>
#include <limits>

#include "node_operator.h"
#include "parallel_rows.h"
#include "pyprune/dispatch.h"
#include "pyprune/graph/factories.h"

namespace pyprune::graph {
namespace {

enum class UnaryKind {
  sqrt, rsqrt, exp, log, abs, neg, reciprocal, pow, erf, sin, cos, atan, floor, ceil, round, sign, tan, trunc, expm1,
  log1p, exp2, log2, log10, sinh, cosh, asin, acos, asinh, acosh, atanh, erfc, erfinv
};

const std::vector<std::string>& kind_names() {
  static const std::vector<std::string> names = {"sqrt", "rsqrt", "exp", "log", "abs", "neg", "reciprocal", "pow",
                                                 "erf", "sin", "cos", "atan", "floor", "ceil", "round", "sign",
                                                 "tan", "trunc", "expm1", "log1p", "exp2", "log2", "log10",
                                                 "sinh", "cosh", "asin", "acos", "asinh", "acosh", "atanh", "erfc",
                                                 "erfinv"};
  return names;
}

// The inverse of erf: M. Giles' single-precision approximation ("Approximating the erfinv
// function", GPU Computing Gems, 2011) as a start, then two Newton steps on erf in double,
// which leave it within an ulp of the float it rounds to. NaN outside [-1, 1].
float erfinv(float v) {
  const double y = v;
  if (!(y >= -1.0 && y <= 1.0)) return std::numeric_limits<float>::quiet_NaN();
  if (y == 1.0 || y == -1.0) return std::copysign(std::numeric_limits<float>::infinity(), v);
  double w = -std::log((1.0 - y) * (1.0 + y)), p;
  if (w < 5.0) {
    w -= 2.5;
    p = 2.81022636e-08;
    for (double c : {3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503, -0.00417768164,
                     0.246640727, 1.50140941})
      p = c + p * w;
  } else {
    w = std::sqrt(w) - 3.0;
    p = -0.000200214257;
    for (double c : {0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613, 0.00943887047,
                     1.00167406, 2.83297682})
      p = c + p * w;
  }
  double x = p * y;
  const double two_over_sqrt_pi = 1.1283791670955126;
  for (int step = 0; step < 2; step++) x -= (std::erf(x) - y) / (two_over_sqrt_pi * std::exp(-x * x));
  return static_cast<float>(x);
}

template <class F>
void map(const float* x, float* y, size_t begin, size_t end, F f) {
  for (size_t i = begin; i < end; i++) y[i] = f(x[i]);
}

void vmath(pp_vmath_op op, const float* x, float* y, size_t begin, size_t end) {
  pp_f32_vmath_config(op).fn(end - begin, x + begin, y + begin);
}

class Unary final : public NodeOperator {
 public:
  explicit Unary(const Attributes& attrs) : NodeOperator(attrs) {
    attrs.only({"kind", "exponent"});
    const std::string name = attrs.text("kind", kind_names());
    name_ = name;
    for (size_t i = 0; i < kind_names().size(); i++)
      if (kind_names()[i] == name) kind_ = static_cast<UnaryKind>(i);
    if (kind_ == UnaryKind::pow) {
      if (!attrs.has("exponent")) attrs.fail("attribute 'exponent' is required for kind 'pow'");
      const double big = std::numeric_limits<float>::max();
      exponent_ = static_cast<float>(attrs.real("exponent", -big, big, 0.0));
    } else if (attrs.has("exponent")) {
      attrs.fail("attribute 'exponent' applies only to kind 'pow', not '" + name + "'");
    }
  }

  std::vector<Dims> output_shapes(const std::vector<Dims>& inputs) const override {
    expect_inputs(inputs, 1, 1);
    return {inputs[0]};
  }

  void run(const std::vector<const float*>& in, const std::vector<Dims>& in_shapes, const std::vector<float*>& out,
           const std::vector<Dims>&) const override {
    const float* x = in[0];
    float* y = out[0];
    parallel_rows(1, elements(in_shapes[0]), [&](size_t, size_t, size_t begin, size_t end) {
      switch (kind_) {
        case UnaryKind::sqrt: return map(x, y, begin, end, [](float v) { return std::sqrt(v); });
        case UnaryKind::rsqrt: return map(x, y, begin, end, [](float v) { return 1.0f / std::sqrt(v); });
        case UnaryKind::exp: return vmath(pp_vmath_exp, x, y, begin, end);
        case UnaryKind::log: return vmath(pp_vmath_log, x, y, begin, end);
        case UnaryKind::abs: return map(x, y, begin, end, [](float v) { return std::fabs(v); });
        case UnaryKind::neg: return map(x, y, begin, end, [](float v) { return -v; });
        case UnaryKind::reciprocal: return map(x, y, begin, end, [](float v) { return 1.0f / v; });
        case UnaryKind::erf: return map(x, y, begin, end, [](float v) { return std::erf(v); });
        case UnaryKind::sin: return map(x, y, begin, end, [](float v) { return std::sin(v); });
        case UnaryKind::cos: return map(x, y, begin, end, [](float v) { return std::cos(v); });
        case UnaryKind::atan: return map(x, y, begin, end, [](float v) { return std::atan(v); });
        case UnaryKind::floor: return map(x, y, begin, end, [](float v) { return std::floor(v); });
        case UnaryKind::ceil: return map(x, y, begin, end, [](float v) { return std::ceil(v); });
        case UnaryKind::round: return map(x, y, begin, end, [](float v) { return std::nearbyint(v); });
        case UnaryKind::tan: return map(x, y, begin, end, [](float v) { return std::tan(v); });
        case UnaryKind::trunc: return map(x, y, begin, end, [](float v) { return std::trunc(v); });
        case UnaryKind::expm1: return vmath(pp_vmath_expm1, x, y, begin, end);
        case UnaryKind::log1p: return vmath(pp_vmath_log1p, x, y, begin, end);
        case UnaryKind::exp2: return map(x, y, begin, end, [](float v) { return std::exp2(v); });
        case UnaryKind::log2: return map(x, y, begin, end, [](float v) { return std::log2(v); });
        case UnaryKind::log10: return map(x, y, begin, end, [](float v) { return std::log10(v); });
        case UnaryKind::sinh: return map(x, y, begin, end, [](float v) { return std::sinh(v); });
        case UnaryKind::cosh: return map(x, y, begin, end, [](float v) { return std::cosh(v); });
        case UnaryKind::asin: return map(x, y, begin, end, [](float v) { return std::asin(v); });
        case UnaryKind::acos: return map(x, y, begin, end, [](float v) { return std::acos(v); });
        case UnaryKind::asinh: return map(x, y, begin, end, [](float v) { return std::asinh(v); });
        case UnaryKind::acosh: return map(x, y, begin, end, [](float v) { return std::acosh(v); });
        case UnaryKind::atanh: return map(x, y, begin, end, [](float v) { return std::atanh(v); });
        case UnaryKind::erfc: return map(x, y, begin, end, [](float v) { return std::erfc(v); });
        case UnaryKind::erfinv: return map(x, y, begin, end, erfinv);
        case UnaryKind::sign:
          return map(x, y, begin, end, [](float v) { return static_cast<float>((v > 0.0f) - (v < 0.0f)); });
        case UnaryKind::pow: return pow(x, y, begin, end);
      }
    });
  }

  std::string describe() const override {
    return "unary " + name_ + (kind_ == UnaryKind::pow ? "(" + std::to_string(exponent_) + ")" : "");
  }

 private:
  // torch's pow(tensor, scalar): exact forms for these exponents, std::pow otherwise.
  void pow(const float* x, float* y, size_t begin, size_t end) const {
    const float e = exponent_;
    if (e == 2.0f) return map(x, y, begin, end, [](float v) { return v * v; });
    if (e == 3.0f) return map(x, y, begin, end, [](float v) { return v * v * v; });
    if (e == 0.5f) return map(x, y, begin, end, [](float v) { return std::sqrt(v); });
    if (e == -0.5f) return map(x, y, begin, end, [](float v) { return 1.0f / std::sqrt(v); });
    if (e == -1.0f) return map(x, y, begin, end, [](float v) { return 1.0f / v; });
    if (e == -2.0f) return map(x, y, begin, end, [](float v) { return 1.0f / (v * v); });
    map(x, y, begin, end, [e](float v) { return std::pow(v, e); });
  }

  std::string name_;
  UnaryKind kind_ = UnaryKind::sqrt;
  float exponent_ = 0.0f;
};

}  // namespace

std::unique_ptr<Operator> make_unary(const Attributes& attrs, const std::vector<const Constant*>&) {
  return std::make_unique<Unary>(attrs);
}

}  // namespace pyprune::graph
