// Reading the fused activation attributes (fused_activation.h).
#include "fused_activation.h"

#include <limits>

namespace pyprune::graph {

const std::vector<std::string>& fused_activation_attributes() {
  static const std::vector<std::string> names = {"activation", "activation_min", "activation_max",
                                                 "activation_alpha"};
  return names;
}

Activation fused_activation(const Attributes& attrs) {
  const std::string name = attrs.text("activation", activation_names(), "none");
  const double big = std::numeric_limits<float>::max();
  if (name != "clamp" && (attrs.has("activation_min") || attrs.has("activation_max")))
    attrs.fail("attribute 'activation_min'/'activation_max' applies only to activation 'clamp', not '" + name + "'");
  if (name != "leaky_relu" && attrs.has("activation_alpha"))
    attrs.fail("attribute 'activation_alpha' applies only to activation 'leaky_relu', not '" + name + "'");
  Activation act;
  if (name == "none") return act;
  if (name == "relu" || name == "relu6" || name == "clamp") {
    act.kind = ActivationKind::clamp;
    act.min = 0.0f;
    if (name == "relu6") act.max = 6.0f;
    if (name == "clamp") {
      const double inf = std::numeric_limits<double>::infinity();
      act.min = static_cast<float>(attrs.real("activation_min", -inf, inf, -inf));
      act.max = static_cast<float>(attrs.real("activation_max", -inf, inf, inf));
      if (act.min > act.max)
        attrs.fail("attribute 'activation_min' (" + std::to_string(act.min) + ") is above 'activation_max' (" +
                   std::to_string(act.max) + ")");
    }
    return act;
  }
  static const std::pair<const char*, ActivationKind> kinds[] = {
      {"leaky_relu", ActivationKind::leaky_relu}, {"hardswish", ActivationKind::hardswish},
      {"hardsigmoid", ActivationKind::hardsigmoid}, {"silu", ActivationKind::silu},
      {"sigmoid", ActivationKind::sigmoid}, {"tanh", ActivationKind::tanh},
      {"gelu", ActivationKind::gelu}, {"gelu_tanh", ActivationKind::gelu_tanh}};
  for (const auto& [n, kind] : kinds)
    if (name == n) act.kind = kind;
  // torch's default negative slope.
  if (act.kind == ActivationKind::leaky_relu)
    act.alpha = static_cast<float>(attrs.real("activation_alpha", -big, big, 0.01));
  return act;
}

std::string activation_suffix(const Activation& act) {
  return act.kind == ActivationKind::none ? "" : " + " + act.name();
}

}  // namespace pyprune::graph
