// Which instruction set this CPU runs, detected once; PYPRUNE_ISA can only lower it. Whether its
// cores are in-order ones (Cortex-A53 class), which the GEMM schedules for.
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "pyprune/dispatch.h"

#if PYPRUNE_ARCH_X86_64
#include <cpuid.h>
#endif
#if PYPRUNE_ARCH_AARCH64 && defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_CPUID
#define HWCAP_CPUID (1 << 11)
#endif
#endif

namespace {

pp_isa detect_hardware_isa() {
#if PYPRUNE_ARCH_AARCH64
  return pp_isa_neon;  // ASIMD is part of the AArch64 baseline
#elif PYPRUNE_ARCH_X86_64
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return pp_isa_scalar;
  const bool fma = ecx & bit_FMA, osxsave = ecx & bit_OSXSAVE, avx = ecx & bit_AVX;
  if (!(fma && osxsave && avx)) return pp_isa_scalar;
  // The OS must save the YMM registers on context switches (XCR0 bits 1 and 2).
  unsigned xcr0_lo, xcr0_hi;
  __asm__("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
  if ((xcr0_lo & 0x6) != 0x6) return pp_isa_scalar;
  if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return pp_isa_scalar;
  if (!(ebx & bit_AVX2)) return pp_isa_scalar;
  // AVX-512 F, BW, DQ and VL, and the OS saving the mask and ZMM registers (XCR0 bits 5-7);
  // only if this build has the kernels (CMake's PYPRUNE_AVX512).
  const unsigned avx512 = bit_AVX512F | bit_AVX512BW | bit_AVX512DQ | bit_AVX512VL;
  const bool has_avx512 = (ebx & avx512) == avx512 && (xcr0_lo & 0xe0) == 0xe0;
  return PYPRUNE_AVX512_KERNELS && has_avx512 ? pp_isa_avx512 : pp_isa_avx2;
#else
  return pp_isa_scalar;
#endif
}

#if PYPRUNE_ARCH_AARCH64 && defined(__linux__)
// MIDR_EL1 of every core from sysfs (empty where Linux does not list it).
std::vector<uint64_t> sysfs_midrs() {
  std::vector<uint64_t> midrs;
  for (int cpu = 0; cpu < 4096; cpu++) {
    const std::string path = "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/regs/identification/midr_el1";
    std::FILE* file = std::fopen(path.c_str(), "r");
    if (file == nullptr) break;
    unsigned long long midr = 0;
    const bool read = std::fscanf(file, "%llx", &midr) == 1;
    std::fclose(file);
    if (!read) return {};
    midrs.push_back(midr);
  }
  return midrs;
}
#endif

bool detect_in_order_cores() {
#if PYPRUNE_ARCH_AARCH64 && defined(__linux__)
  std::vector<uint64_t> midrs = sysfs_midrs();
  if (midrs.empty() && (getauxval(AT_HWCAP) & HWCAP_CPUID)) {  // the kernel emulates MRS of ID registers
    uint64_t midr;
    __asm__("mrs %0, MIDR_EL1" : "=r"(midr));
    midrs.push_back(midr);
  }
  if (midrs.empty()) return false;
  // big.LITTLE with faster cores keeps the out-of-order schedule: the work goes to the big cores.
  for (uint64_t midr : midrs)
    if (!pp_in_order_midr(midr)) return false;
  return true;
#else
  return false;
#endif
}

std::string names(const std::vector<pp_isa>& isas) {
  std::string list;
  for (pp_isa isa : isas) list += (list.empty() ? "" : ", ") + std::string(pp_isa_name(isa));
  return list;
}

// PYPRUNE_ISA must name an ISA this build and CPU run (exactly, lower case): a typo or an ISA
// of another CPU is an error, never a silent fall to the slow reference kernels.
pp_isa choose_by_environment(const std::vector<pp_isa>& available) {
  const char* forced = std::getenv("PYPRUNE_ISA");
  if (forced == nullptr) return available.back();
  for (pp_isa isa : available) {
    if (forced == std::string(pp_isa_name(isa))) return isa;
  }
  const std::string given = "PYPRUNE_ISA='" + std::string(forced) + "'";
  const std::string choices = "one of: " + names(available) + " (this CPU's; unset PYPRUNE_ISA for the fastest, " +
                              pp_isa_name(available.back()) + ")";
  for (pp_isa isa : {pp_isa_avx2, pp_isa_avx512, pp_isa_neon}) {
    if (forced == std::string(pp_isa_name(isa))) {
      throw std::runtime_error(given + " is not available on this CPU: use " + choices);
    }
  }
  throw std::runtime_error(given + " is not " + choices);
}

}  // namespace

const char* pp_isa_name(pp_isa isa) {
  switch (isa) {
    case pp_isa_avx2: return "avx2";
    case pp_isa_avx512: return "avx512";
    case pp_isa_neon: return "neon";
    default: return "scalar";
  }
}

const std::vector<pp_isa>& pp_available_isas() {
  static const std::vector<pp_isa> isas = [] {
    const pp_isa hardware = detect_hardware_isa();
    std::vector<pp_isa> all{pp_isa_scalar};
    // A CPU with AVX-512 runs the AVX2 kernels too: they are its fallback (see dispatch.h).
    if (hardware == pp_isa_avx512) all.push_back(pp_isa_avx2);
    if (hardware != pp_isa_scalar) all.push_back(hardware);
    return all;
  }();
  return isas;
}

pp_isa pp_active_isa() {
  // Throws (every call, as the static stays uninitialised) while PYPRUNE_ISA is invalid.
  static const pp_isa active = choose_by_environment(pp_available_isas());
  return active;
}

bool pp_in_order_midr(uint64_t midr) {
  const uint64_t implementer = (midr >> 24) & 0xff, part = (midr >> 4) & 0xfff;
  // Arm Ltd's Cortex-A53, A35 and A55: dual-issue in-order, one 64-bit load beside an FMLA.
  return implementer == 0x41 && (part == 0xd03 || part == 0xd04 || part == 0xd05);
}

bool pp_in_order_cores() {
  static const bool in_order = detect_in_order_cores();
  return in_order;
}
