// FullyConnected: y = W x + bias for each row x, on the GEMV kernels' panels (see
// pyprune/fully_connected.h). One row: the GEMV kernel, the panels split between tasks. More
// rows: the GEMM kernel over the same panels, in one of two ways:
//  - where the GEMM's packed blocks are as wide as the panels (NEON, the reference), the panels
//    are its weight blocks: y^T = W x^T through transposes, the rows as the GEMM's columns,
//    which its narrow-column paths take at any count;
//  - elsewhere the panels are its activation operand b (a panel is 1 + depth rows of nr floats:
//    the biases, then the weights of each k) and the rows of x its weight blocks (per block of
//    the GEMM's mr rows: zeros for its bias, ones against the panels' bias row, then the rows
//    k-major): y = x W^T + bias lands in y directly. The threads share chunks of rows (and
//    ranges of panels where the rows are few), each packed by one of them: many rows (a
//    ConvNeXt block's or a transformer's linear layers over every pixel or token) scale with the
//    threads (1.1-1.6x faster at 2 threads than sharing panels only, x86-64 AVX-512).
// Either way each panel is loaded once for several rows, which is why two rows already go to the
// GEMM: a GEMV per row took as long or longer (x86-64 AVX-512 and AVX2, heads 1280 -> 1000 and
// 1024 -> 1000, squeeze-excitation 96 -> 24 to 1152 -> 48). On NEON, counted under QEMU, three
// GEMVs would take fewer instructions (0.37 per MAC against 0.66 for a head at three rows) but
// read the weights three times, and a head's 4-5 MB outgrow a Pi's L2.
#include "pyprune/fully_connected.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "aligned_buffer.h"
#include "pack_k_major.h"
#include "pyprune/capabilities.h"
#include "pyprune/shape.h"
#include "pyprune/threadpool.h"

namespace pyprune {
namespace {

// Multiply-accumulates per task: enough to be worth waking a thread for, small enough to
// balance a 1000-output head over a few cores.
constexpr size_t kLinearTaskMacs = size_t{1} << 16;
// The GEMM path (x86): rows are packed and multiplied in chunks of at most this many bytes of
// packed rows, against groups of panels of at most kPanelGroupBytes, with at least
// kChunksPerThread tasks per thread where the rows allow.
constexpr size_t kRowChunkBytes = 64 * 1024;
constexpr size_t kPanelGroupBytes = 192 * 1024;
constexpr size_t kChunksPerThread = 4;

// Panels per task when each panel does `macs` multiply-accumulates.
size_t panels_per_task(size_t macs) { return std::max<size_t>(1, kLinearTaskMacs / std::max<size_t>(macs, 1)); }

// dst[c][r] = src[r][c] for a rows x cols matrix, in tiles that stay in L1.
void transpose(const float* src, size_t rows, size_t cols, float* dst) {
  constexpr size_t kTile = 32;
  for (size_t r0 = 0; r0 < rows; r0 += kTile)
    for (size_t c0 = 0; c0 < cols; c0 += kTile)
      for (size_t r = r0; r < std::min(rows, r0 + kTile); r++)
        for (size_t c = c0; c < std::min(cols, c0 + kTile); c++) dst[c * rows + r] = src[r * cols + c];
}

}  // namespace

FullyConnected::FullyConnected(size_t outputs, size_t depth, const float* weight, const float* bias,
                               const pp_f32_gemv_ukernel* ukernel)
    : outputs_(outputs), depth_(depth), ukernel_(ukernel != nullptr ? ukernel : &pp_f32_gemv_config()) {
  if (outputs == 0 || depth == 0)
    throw std::invalid_argument("weight must have at least one output and one input, got " + std::to_string(outputs) +
                                "x" + std::to_string(depth));
  const size_t elements = checked_mul(outputs, depth, "weight");
  if (elements > kMaxWeightElements)
    throw std::invalid_argument("weight has " + std::to_string(elements) + " elements, more than the " +
                                std::to_string(kMaxWeightElements) + " a layer may have");
  const size_t nr = ukernel_->nr;
  storage_.assign(pp_divide_round_up(outputs, nr) * panel_floats(), 0.0f);
  for (size_t o = 0; o < outputs; o++) {
    float* panel = storage_.data() + o / nr * panel_floats() + o % nr;
    panel[0] = bias != nullptr ? bias[o] : 0.0f;
    for (size_t k = 0; k < depth; k++) panel[nr + k * nr] = weight[o * depth + k];
  }
  panels_ = storage_.data();
}

FullyConnected::FullyConnected(size_t outputs, size_t depth, const float* panels, const pp_f32_gemv_ukernel& ukernel)
    : outputs_(outputs), depth_(depth), ukernel_(&ukernel), panels_(panels) {}

void FullyConnected::run(size_t rows, const float* x, float* y, const Epilogue& epilogue) const {
  if (rows == 1) {
    gemv(x, y, epilogue);
  } else {
    gemm(rows, x, y, epilogue);
  }
}

void FullyConnected::gemv(const float* x, float* y, const Epilogue& epilogue) const {
  const size_t nr = ukernel_->nr, per_task = panels_per_task(nr * depth_);
  const size_t tasks = pp_divide_round_up(pp_divide_round_up(outputs_, nr), per_task);
  const pp_f32_minmax_params clamp = epilogue.kernel_clamp();
  parallel_for(tasks, [&](size_t t) {
    const size_t panel = t * per_task, first = panel * nr, count = std::min(per_task * nr, outputs_ - first);
    ukernel_->fn(count, depth_, x, panels_ + panel * panel_floats(), y + first, &clamp);
    epilogue.apply(y + first, 1, count, count * sizeof(float), y);
  });
}

void FullyConnected::gemm(size_t rows, const float* x, float* y, const Epilogue& epilogue) const {
  const pp_f32_gemm_ukernel& gemm = pp_f32_gemm_config();
  const size_t nr = ukernel_->nr, panels = pp_divide_round_up(outputs_, nr);
  const pp_f32_minmax_params clamp = epilogue.kernel_clamp();
  if (gemm.mr == nr) {
    const size_t per_task = panels_per_task(rows * nr * depth_), tasks = pp_divide_round_up(panels, per_task);
    thread_local AlignedBuffer transposed_x, transposed_y;
    transposed_x.reserve(rows * depth_);
    transposed_y.reserve(rows * outputs_);
    float *xt = transposed_x.data(), *yt = transposed_y.data();
    transpose(x, rows, depth_, xt);
    parallel_for(tasks, [&](size_t t) {
      for (size_t p = t * per_task; p < std::min(panels, (t + 1) * per_task); p++) {
        const size_t first = p * nr;
        gemm.fn(std::min(nr, outputs_ - first), rows, depth_, xt, rows * sizeof(float), panels_ + p * panel_floats(),
                yt + first * rows, rows * sizeof(float), &clamp);
      }
    });
    transpose(yt, outputs_, rows, y);
    epilogue.apply(y, rows, outputs_, outputs_ * sizeof(float), y);
    return;
  }
  // x's rows as the kernel's weight blocks: per block of mr rows, zeros for its bias, ones
  // against the panels' bias row, then the rows k-major.
  const size_t mr = gemm.mr, kc = 1 + depth_, block_floats = mr * (1 + kc);
  const size_t blocks = pp_divide_round_up(rows, mr);
  const size_t chunk = std::min(blocks, std::max<size_t>(1, kRowChunkBytes / (block_floats * sizeof(float))));
  const size_t chunks = pp_divide_round_up(blocks, chunk), threads = get_num_threads();
  thread_local AlignedBuffer packed_rows;
  packed_rows.reserve(blocks * block_floats);
  float* a = packed_rows.data();
  auto pack = [&](size_t c) {
    for (size_t block = c * chunk; block < std::min(blocks, (c + 1) * chunk); block++) {
      float* to = a + block * block_floats;
      const size_t r0 = block * mr, block_rows = std::min(mr, rows - r0);
      std::fill(to, to + 2 * mr, 0.0f);
      std::fill(to + mr, to + mr + block_rows, 1.0f);
      pack_k_major(x + r0 * depth_, block_rows, depth_, mr, to + 2 * mr);
    }
  };
  if (chunks == 1) {
    pack(0);
  } else {
    parallel_for(chunks, pack);
  }
  // Tasks are chunks of rows. The rows of one chunk (a head at a small batch) split the panels
  // as the GEMV does, by multiply-accumulates per task; a few chunks are cut into ranges of
  // panels too, to balance the threads. A task takes its panels a group at a time (the group
  // stays in L2 while each block of rows multiplies it), then runs the epilogue on the group's
  // run of each row.
  size_t parts = 1;
  if (threads > 1 && chunks == 1) {
    parts = pp_divide_round_up(panels, panels_per_task(rows * nr * depth_));
  } else if (threads > 1 && chunks < kChunksPerThread * threads) {
    parts = std::min(panels, pp_divide_round_up(kChunksPerThread * threads, chunks));
  }
  const size_t group = std::max<size_t>(1, kPanelGroupBytes / (panel_floats() * sizeof(float)));
  const size_t stride = outputs_ * sizeof(float);
  parallel_for(chunks * parts, [&](size_t t) {
    const size_t first_block = t / parts * chunk, end_block = std::min(blocks, first_block + chunk);
    const size_t part = t % parts, first_panel = panels * part / parts, end_panel = panels * (part + 1) / parts;
    for (size_t g0 = first_panel; g0 < end_panel; g0 += group) {
      const size_t g1 = std::min(end_panel, g0 + group);
      const size_t first = g0 * nr, width = std::min(outputs_, g1 * nr) - first;
      for (size_t block = first_block; block < end_block; block++) {
        const size_t r0 = block * mr, block_rows = std::min(mr, rows - r0);
        for (size_t p = g0; p < g1; p++)
          gemm.fn(block_rows, std::min(nr, outputs_ - p * nr), kc, panels_ + p * panel_floats(), nr * sizeof(float),
                  a + block * block_floats, y + r0 * outputs_ + p * nr, stride, &clamp);
        epilogue.apply(y + r0 * outputs_ + first, block_rows, width, stride, y);
      }
    }
  });
}

}  // namespace pyprune
