// The activation operator (an activation alone, any shape), and what the compute operators
// share (pyprune/graph/fused.h): the activation attributes and their constant inputs.
#include <cfloat>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "pyprune/dispatch.h"
#include "pyprune/graph/factories.h"
#include "pyprune/graph/fused.h"
#include "pyprune/huffman.h"

namespace pyprune::graph {

Activation activation_attributes(const Attributes& a, const std::string& prefix) {
  const std::vector<std::string> names = activation_attribute_names(prefix);
  const std::string &kind = names[0], &lo = names[1], &hi = names[2], &slope = names[3];
  const std::string name = a.text(kind.c_str(), activation_names(), "none");
  if (name != "clamp" && (a.has(lo.c_str()) || a.has(hi.c_str())))
    a.fail("attributes '" + lo + "' and '" + hi + "' apply only to " + kind + " 'clamp', not '" + name + "'");
  if (name != "leaky_relu" && name != "elu" && a.has(slope.c_str()))
    a.fail("attribute '" + slope + "' applies only to " + kind + " 'leaky_relu' and 'elu', not '" + name + "'");
  constexpr double inf = std::numeric_limits<double>::infinity();
  const double min = a.real(lo.c_str(), -inf, inf, -inf), max = a.real(hi.c_str(), -inf, inf, inf);
  if (min > max) a.fail("attribute '" + lo + "' must not exceed '" + hi + "'");
  const double alpha = a.real(slope.c_str(), -FLT_MAX, FLT_MAX, name == "elu" ? 1.0 : 0.01);
  return pyprune::make_activation(name, static_cast<float>(min), static_cast<float>(max), static_cast<float>(alpha));
}

std::vector<std::string> activation_attribute_names(const std::string& prefix) {
  return {prefix + "activation", prefix + "activation_min", prefix + "activation_max", prefix + "activation_alpha"};
}

std::string activation_suffix(const Activation& act) {
  return act.kind == ActivationKind::none ? "" : " + " + act.name();
}

const Constant& constant_input(const Attributes& a, const std::vector<const Constant*>& constants, size_t index,
                               const char* what) {
  if (index >= constants.size()) a.fail(std::string("input ") + std::to_string(index) + " (" + what + ") is missing");
  if (constants[index] == nullptr)
    a.fail(std::string("input ") + std::to_string(index) + " (" + what + ") must be a constant");
  return *constants[index];
}

const float* constant_floats(const Constant& c, std::vector<float>& storage) {
  if (c.dense != nullptr) return c.dense;
  storage.resize(elements(c.shape));
  c.coded->decode(pp_u8_huffdec_config(), storage.data());
  return storage.data();
}

namespace {

class ActivationOperator : public Operator {
 public:
  explicit ActivationOperator(const Activation& activation) : activation_(activation) {}

  std::vector<Dims> output_shapes(const std::vector<Dims>& inputs) const override {
    if (inputs.size() != 1)
      throw std::invalid_argument("activation takes 1 input, got " + std::to_string(inputs.size()));
    return {inputs[0]};
  }

  void run(const std::vector<const float*>& in, const std::vector<Dims>& in_shapes, const std::vector<float*>& out,
           const std::vector<Dims>&) const override {
    apply_activation(activation_, in[0], out[0], elements(in_shapes[0]));
  }

  std::string describe() const override {
    const pp_f32_vunary_ukernel* k = pp_f32_vunary_config(activation_.kind);
    return "activation " + activation_.name() + (k != nullptr ? std::string(" ") + k->name : "");
  }

 private:
  Activation activation_;
};

}  // namespace

std::unique_ptr<Operator> make_activation(const Attributes& a, const std::vector<const Constant*>& constants) {
  a.only(activation_attribute_names());
  if (constants.size() != 1) a.fail("activation takes 1 input, got " + std::to_string(constants.size()));
  return std::make_unique<ActivationOperator>(activation_attributes(a));
}

}  // namespace pyprune::graph
