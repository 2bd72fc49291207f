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

Activation activation_attributes(const Attributes& a) {
  const std::string name = a.text("activation", activation_names(), "none");
  if (name != "clamp" && (a.has("activation_min") || a.has("activation_max")))
    a.fail("attributes 'activation_min' and 'activation_max' apply only to activation 'clamp', not '" + name + "'");
  if (name != "leaky_relu" && a.has("activation_alpha"))
    a.fail("attribute 'activation_alpha' applies only to activation 'leaky_relu', not '" + name + "'");
  constexpr double inf = std::numeric_limits<double>::infinity();
  const double min = a.real("activation_min", -inf, inf, -inf), max = a.real("activation_max", -inf, inf, inf);
  if (min > max) a.fail("attribute 'activation_min' must not exceed 'activation_max'");
  const double alpha = a.real("activation_alpha", -FLT_MAX, FLT_MAX, 0.01);
  return pyprune::make_activation(name, static_cast<float>(min), static_cast<float>(max), static_cast<float>(alpha));
}

const std::vector<std::string>& activation_attribute_names() {
  static const std::vector<std::string> names = {"activation", "activation_min", "activation_max",
                                                 "activation_alpha"};
  return names;
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
