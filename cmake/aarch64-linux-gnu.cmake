# CMake toolchain file: cross-compile for 64-bit ARM Linux (Raspberry Pi OS 64-bit, Debian arm64)
# with Debian's aarch64-linux-gnu GCC (apt: g++-aarch64-linux-gnu). Used by
# scripts/build-aarch64-wheel.sh; NEON needs no flag (ASIMD is baseline on AArch64).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)

# Libraries and headers of the target come from the cross toolchain's multiarch dirs; host
# programs (cmake helpers, python) are never searched for in them.
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
