// pyprune._core. Only csrc/bindings sees Python: its files convert and check arguments, naming
// the bad one, release the GIL around the operators (pyprune/*.h), and never link libtorch. One
// file per area, each with a register_* function called here.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "arrays.h"
#include "pyprune/activation.h"
#include "pyprune/capabilities.h"
#include "pyprune/dispatch.h"
#include "pyprune/threadpool.h"
#include "register.h"

namespace py = pybind11;

namespace {

// What the operators take, as data (pyprune/capabilities.h).
py::dict capabilities() {
  py::list depthwise;
  for (const auto& c : pyprune::depthwise_cases()) {
    py::dict d;
    d["kernel_size"] = c.kernel_size;
    d["stride"] = c.stride;
    d["max_padding"] = c.max_padding;
    depthwise.append(d);
  }
  const pyprune::WinogradCase& w = pyprune::winograd_case();
  py::dict winograd;
  winograd["kernel_size"] = w.kernel_size;
  winograd["stride"] = w.stride;
  winograd["dilation"] = w.dilation;
  winograd["groups"] = w.groups;
  winograd["max_padding"] = w.max_padding;
  winograd["tiles"] = w.tiles;
  winograd["min_tiles"] = pyprune::winograd_min_tiles();
  winograd["small_group_channels"] = pyprune::kWinogradSmallGroupChannels;
  winograd["small_group_min_tiles"] = pyprune::winograd_small_group_min_tiles();
  py::dict caps;
  caps["depthwise_conv2d"] = depthwise;
  caps["winograd_conv2d"] = winograd;
  caps["sparse_blocks"] = pyprune::sparse_blocks();
  const pyprune::SparseRule& rule = pyprune::sparse_rule();
  py::dict sparse_rule;
  sparse_rule["pointwise_max_density"] = rule.pointwise_max_density;
  sparse_rule["conv_max_density"] = rule.conv_max_density;
  sparse_rule["few_outputs"] = rule.few_outputs;
  py::dict block_costs;
  for (const auto& [block, cost] : rule.block_costs) block_costs[py::int_(block)] = cost;
  sparse_rule["block_costs"] = block_costs;
  caps["sparse_rule"] = sparse_rule;
  caps["max_threads"] = pyprune::kMaxThreads;
  caps["max_weight_elements"] = pyprune::kMaxWeightElements;
  caps["activations"] = pyprune::activation_names();
  return caps;
}

// parallel_for over n indices, index i busy for `busy_us` microseconds when i < slow: how
// often each index ran and how many threads ran some. For the pool's tests.
py::tuple parallel_for_runs(const pyprune::bindings::IntArg& n_arg, const pyprune::bindings::IntArg& slow_arg,
                            const pyprune::bindings::IntArg& busy_arg) {
  const size_t n = pyprune::bindings::count_arg(n_arg.obj, "n", 0);
  const size_t slow = pyprune::bindings::count_arg(slow_arg.obj, "slow", 0);
  const size_t busy_us = pyprune::bindings::count_arg(busy_arg.obj, "busy_us", 0);
  if (n > 1000000) throw py::value_error("n must be at most 1000000, got " + std::to_string(n));
  if (busy_us > 10000) throw py::value_error("busy_us must be at most 10000, got " + std::to_string(busy_us));
  std::vector<std::atomic<int>> runs(n);
  std::mutex mutex;
  std::set<std::thread::id> threads;
  {
    py::gil_scoped_release release;
    pyprune::parallel_for(n, [&](size_t i) {
      if (i < slow) {
        const auto end = std::chrono::steady_clock::now() + std::chrono::microseconds(busy_us);
        while (std::chrono::steady_clock::now() < end) {
        }
      }
      runs[i].fetch_add(1);
      std::lock_guard<std::mutex> lock(mutex);
      threads.insert(std::this_thread::get_id());
    });
  }
  py::list counts;
  for (const auto& r : runs) counts.append(r.load());
  return py::make_tuple(counts, threads.size());
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "pyprune's C++ kernels (NEON, AVX-512, AVX2 and reference variants)";
  m.attr("__version__") = PYPRUNE_VERSION;

  m.def("isa", [] { return pp_isa_name(pp_active_isa()); },
        "The instruction set the kernels use: 'neon', 'avx512', 'avx2' or 'scalar'.");
  m.def("available_isas", [] {
    std::vector<std::string> names;
    for (pp_isa isa : pp_available_isas()) names.push_back(pp_isa_name(isa));
    return names;
  }, "Instruction sets this build and CPU can run, from scalar to the best.");
  m.def("in_order_cores", &pp_in_order_cores,
        "Whether every core is an in-order Cortex-A53-class one (A53, A35, A55), whose GEMM kernel is scheduled "
        "for it.");
  m.def("set_num_threads", [](const pyprune::bindings::IntArg& n) {
    const int64_t threads = pyprune::bindings::int_arg(n.obj, "num_threads");
    pyprune::require(pyprune::threads_rejects(threads));
    py::gil_scoped_release release;
    pyprune::set_num_threads(static_cast<size_t>(threads));
  }, py::arg("num_threads"));
  m.def("get_num_threads", [] { return pyprune::get_num_threads(); });
  m.def("capabilities", &capabilities,
        "What the operators take: depthwise (kernel_size, stride, max_padding) cases, the Winograd "
        "convolution, sparse block sizes, limits, activations.");
  m.def("depthwise_conv2d_rejects", &pyprune::depthwise_conv2d_rejects, py::arg("kernel_size"), py::arg("stride"),
        py::arg("padding"), "Why no depthwise kernel takes this convolution, or '' when one does.");
  m.def("conv2d_rejects", &pyprune::conv2d_rejects, py::arg("kernel_size"), py::arg("stride"), py::arg("padding"),
        "Why the convolution drivers do not take this convolution, or '' when they do.");

  py::module_ testing = m.def_submodule("testing", "Every microkernel, for tests and benchmarks.");
  pyprune::bindings::register_dense(m, testing);
  pyprune::bindings::register_sparse(m, testing);
  pyprune::bindings::register_huffman(m, testing);
  pyprune::bindings::register_activation(m, testing);
  pyprune::bindings::register_winograd(m, testing);
  pyprune::bindings::register_operators(testing);
  pyprune::bindings::register_graph(m);
  pyprune::bindings::register_graph_ukernels(testing);
  testing.def("parallel_for_runs", &parallel_for_runs, py::arg("n"), py::arg("slow"), py::arg("busy_us"),
              "parallel_for over n indices, those below `slow` busy for busy_us microseconds: (how often "
              "each index ran, how many threads ran one).");
}
