// Which instruction set this CPU runs, detected once; PYPRUNE_ISA can only lower it.
#include <cstdlib>
#include <cstring>

#include "pyprune/dispatch.h"

#if PYPRUNE_ARCH_X86_64
#include <cpuid.h>
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
  return (ebx & bit_AVX2) ? pp_isa_avx2 : pp_isa_scalar;
#else
  return pp_isa_scalar;
#endif
}

pp_isa lower_by_environment(pp_isa hardware) {
  const char* forced = std::getenv("PYPRUNE_ISA");
  if (forced == nullptr) return hardware;
  if (std::strcmp(forced, "scalar") == 0) return pp_isa_scalar;
  // Naming the hardware's own ISA keeps it; naming another one cannot raise the level.
  if (std::strcmp(forced, pp_isa_name(hardware)) == 0) return hardware;
  return pp_isa_scalar;
}

}  // namespace

const char* pp_isa_name(pp_isa isa) {
  switch (isa) {
    case pp_isa_avx2: return "avx2";
    case pp_isa_neon: return "neon";
    default: return "scalar";
  }
}

std::vector<pp_isa> pp_available_isas() {
  static const pp_isa hardware = detect_hardware_isa();
  std::vector<pp_isa> isas{pp_isa_scalar};
  if (hardware != pp_isa_scalar) isas.push_back(hardware);
  return isas;
}

pp_isa pp_active_isa() {
  static const pp_isa active = lower_by_environment(pp_available_isas().back());
  return active;
}
