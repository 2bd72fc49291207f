// Reference activation and math microkernels: the obvious loop, computed in double precision and rounded
// once, so they are within 1 ulp of the exact function (see f32-vunary.inc). Formulas are
// chosen to avoid cancellation: sigmoid-based forms for silu and gelu_tanh, erfc for gelu.
#include <cmath>

#include "pyprune/ukernels.h"

namespace {

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

double hardsigmoid(double x) { return std::fmin(std::fmax(x + 3.0, 0.0), 6.0) / 6.0; }

template <class F>
void map(size_t n, const float* x, float* y, F f) {
  PP_ASSERT(n >= 1);
  for (size_t i = 0; i < n; i++) y[i] = static_cast<float>(f(static_cast<double>(x[i])));
}

}  // namespace

extern "C" void pp_f32_vclamp_ukernel__ref(size_t n, const float* x, float* y, const pp_f32_activation_params* p) {
  map(n, x, y, [&](double v) {
    v = v < p->min ? p->min : v;  // comparisons with NaN are false: NaN stays
    return v > p->max ? p->max : v;
  });
}

extern "C" void pp_f32_vlrelu_ukernel__ref(size_t n, const float* x, float* y, const pp_f32_activation_params* p) {
  map(n, x, y, [&](double v) { return v >= 0.0 ? v : p->alpha * v; });
}

// x * hardsigmoid(x): -0 for every x <= -3 (-inf too, as torch gives for finite x), NaN for NaN.
extern "C" void pp_f32_vhardswish_ukernel__ref(size_t n, const float* x, float* y, const pp_f32_activation_params*) {
  map(n, x, y, [](double v) { return v <= -3.0 ? -0.0 : v * hardsigmoid(v); });
}

extern "C" void pp_f32_vhardsigmoid_ukernel__ref(size_t n, const float* x, float* y, const pp_f32_activation_params*) {
  map(n, x, y, [](double v) { return std::isnan(v) ? v : hardsigmoid(v); });
}

// x * sigmoid(x), with exp(-x) = inf at x = -inf giving -inf / inf: the limit is -0.
extern "C" void pp_f32_vsilu_ukernel__ref(size_t n, const float* x, float* y, const pp_f32_activation_params*) {
  map(n, x, y, [](double v) { return std::isinf(v) && v < 0 ? -0.0 : v * sigmoid(v); });
}

extern "C" void pp_f32_vsigmoid_ukernel__ref(size_t n, const float* x, float* y, const pp_f32_activation_params*) {
  map(n, x, y, sigmoid);
}

extern "C" void pp_f32_vtanh_ukernel__ref(size_t n, const float* x, float* y, const pp_f32_activation_params*) {
  map(n, x, y, [](double v) { return std::tanh(v); });
}

// x * Phi(x) = x * erfc(-x / sqrt(2)) / 2: no cancellation where Phi(x) is small.
extern "C" void pp_f32_vgelu_ukernel__ref(size_t n, const float* x, float* y, const pp_f32_activation_params*) {
  map(n, x, y, [](double v) { return std::isinf(v) && v < 0 ? -0.0 : 0.5 * v * std::erfc(-v * M_SQRT1_2); });
}

// x * (1 + tanh(u)) / 2 = x * sigmoid(2u), u = sqrt(2 / pi) * (x + 0.044715 x^3).
extern "C" void pp_f32_vgelu_tanh_ukernel__ref(size_t n, const float* x, float* y, const pp_f32_activation_params*) {
  map(n, x, y, [](double v) {
    if (std::isinf(v) && v < 0) return -0.0;
    const double u = 0.7978845608028654 * (v + 0.044715 * v * v * v);
    return v * sigmoid(2.0 * u);
  });
}

// x * tanh(softplus(x)), softplus(x) = log1p(exp(x)) (x itself where exp(x) overflows, where
// tanh is 1 anyway); the limit -0 at x = -inf.
extern "C" void pp_f32_vmish_ukernel__ref(size_t n, const float* x, float* y, const pp_f32_activation_params*) {
  map(n, x, y, [](double v) {
    if (std::isinf(v)) return v < 0 ? -0.0 : v;
    return v * std::tanh(v > 700.0 ? v : std::log1p(std::exp(v)));
  });
}

extern "C" void pp_f32_velu_ukernel__ref(size_t n, const float* x, float* y, const pp_f32_activation_params* p) {
  map(n, x, y, [&](double v) { return v > 0.0 ? v : p->alpha * std::expm1(v); });
}

extern "C" void pp_f32_vexp_ukernel__ref(size_t n, const float* x, float* y) {
  map(n, x, y, [](double v) { return std::exp(v); });
}

extern "C" void pp_f32_vexpm1_ukernel__ref(size_t n, const float* x, float* y) {
  map(n, x, y, [](double v) { return std::expm1(v); });
}

extern "C" void pp_f32_vlog_ukernel__ref(size_t n, const float* x, float* y) {
  map(n, x, y, [](double v) { return std::log(v); });
}

extern "C" void pp_f32_vlog1p_ukernel__ref(size_t n, const float* x, float* y) {
  map(n, x, y, [](double v) { return std::log1p(v); });
}

// The difference rounded to float32 (as the vector kernels and torch round it), its exponential
// in double rounded once; the sum in double.
extern "C" float pp_f32_vexpsum_ukernel__ref(size_t n, const float* x, float max, float* y) {
  PP_ASSERT(n >= 1);
  double sum = 0.0;
  for (size_t i = 0; i < n; i++) {
    const float h = x[i] - max;
    y[i] = static_cast<float>(std::exp(static_cast<double>(h)));
    sum += y[i];
  }
  return static_cast<float>(sum);
}
