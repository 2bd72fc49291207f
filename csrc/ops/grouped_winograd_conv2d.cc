// Grouped Winograd convolution (see GroupedWinogradConv2d in pyprune/grouped_winograd_conv2d.h).
// With enough groups in the call they are the tasks (each group's driver then runs on its own
// thread, inline); with few, the groups run one after another, each spread over the threads.
// Either way every group's result is the dense driver's, which does not depend on the threads.
#include "pyprune/grouped_winograd_conv2d.h"

#include <stdexcept>
#include <string>

#include "pyprune/capabilities.h"
#include "pyprune/threadpool.h"

namespace pyprune {
namespace {

// Groups in a call (all images) from which they are the tasks: enough to balance up to 8 threads.
constexpr size_t kMinGroupTasks = 8;

}  // namespace

GroupedWinogradConv2d::GroupedWinogradConv2d(size_t out_channels, size_t in_channels, size_t groups,
                                             const std::array<size_t, 4>& padding, const float* weight,
                                             const float* bias, const std::array<size_t, 2>& dilation)
    : in_channels_(in_channels), out_channels_(out_channels) {
  if (groups == 0 || in_channels % groups != 0 || out_channels % groups != 0)
    throw std::invalid_argument("groups must divide in_channels (" + std::to_string(in_channels) +
                                ") and out_channels (" + std::to_string(out_channels) + "), got " +
                                std::to_string(groups));
  const size_t cin = in_channels / groups, cout = out_channels / groups;
  // Each group pads its output channels to the GEMM's blocks: many small groups multiply the
  // weights many times over, so the whole layer's transformed copy is bounded, not each group's.
  const size_t per_group = WinogradConv2d::packed_floats(cout, cin);
  if (per_group > kMaxWeightElements / groups)
    throw std::invalid_argument("weight of " + std::to_string(out_channels) + "x" + std::to_string(cin) +
                                "x3x3 in " + std::to_string(groups) +
                                " groups is too large for Winograd: its transformed copy would have more than the " +
                                std::to_string(kMaxWeightElements) + " elements a layer may have");
  groups_.reserve(groups);
  for (size_t g = 0; g < groups; g++)
    groups_.emplace_back(cout, cin, padding, weight + g * cout * cin * 9, bias != nullptr ? bias + g * cout : nullptr,
                         0, dilation);
}

Shape4 GroupedWinogradConv2d::output_shape(const Shape4& x) const {
  if (x.c != in_channels_)
    throw std::invalid_argument("x must have " + std::to_string(in_channels_) + " channels, got shape " + to_string(x));
  const Shape4 y = groups_[0].output_shape({x.n, x.c / groups_.size(), x.h, x.w});
  return {x.n, out_channels_, y.h, y.w};
}

void GroupedWinogradConv2d::run(const Shape4& x_shape, const float* x, float* y, const Epilogue& epilogue) const {
  const Shape4 y_shape = output_shape(x_shape);
  const size_t groups = groups_.size();
  const Shape4 xg{1, x_shape.c / groups, x_shape.h, x_shape.w};
  const size_t x_floats = xg.elements("x"), y_floats = y_shape.elements("the output") / y_shape.n / groups;
  const float* residual = epilogue.residual();
  // Task i: image i / groups, group i % groups, each at the same offset of x, y and the residual.
  auto one = [&](size_t i) {
    const Epilogue e(epilogue.activation(), residual != nullptr ? residual + i * y_floats : nullptr);
    groups_[i % groups].run(xg, x + i * x_floats, y + i * y_floats, e);
  };
  const size_t tasks = x_shape.n * groups;
  if (tasks >= kMinGroupTasks) {
    parallel_for(tasks, one);
  } else {
    for (size_t i = 0; i < tasks; i++) one(i);
  }
}

}  // namespace pyprune
