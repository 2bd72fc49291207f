#!/bin/bash
# count.sh - count the aarch64 instructions a program executes, under QEMU user-mode emulation
# with pyprune's insncount plugin (setup.sh beside this file prepares everything).
#
#   bash scripts/arm-count/count.sh py [python args...]    the aarch64 Python 3.11 of Debian 12
#   bash scripts/arm-count/count.sh bin PROGRAM [args...]  any aarch64 Linux ELF (a dynamic one
#                                                          loads glibc/libstdc++ from the userland)
#   bash scripts/arm-count/count.sh pyc DIR...             compile the Python modules under DIR to
#                                                          bytecode for the aarch64 Python (as pip
#                                                          does when installing), not counted
#
# Environment:
#   QEMU_CPU        CPU model: cortex-a72 (default, Raspberry Pi 4), cortex-a53 (Pi 3),
#                   cortex-a76 (Pi 5); it decides which features the program's dispatch sees
#   A64_PYTHONPATH  colon-separated directories put in front of the guest's numpy site, e.g. an
#                   unpacked aarch64 wheel
#   INSNCOUNT_ARGS  plugin options, comma-separated (default top=12):
#                     out=FILE.json  JSON report: total, per-object counts, and every marker's
#                                    tag, total and per-object counts
#                     lib=SUBSTR     also print the total of the objects whose path has SUBSTR
#                     top=N          list the N objects that ran most instructions
#                     marker=NUM     marker system call number (default 7911)
#                     quiet=1        print nothing
#   PYPRUNE_A64     cache directory (see scripts/aarch64-env.sh)
#
# Markers: the program makes the otherwise unused system call 7911 with a tag,
#   Python:  import ctypes; mark = ctypes.CDLL(None).syscall; mark(7911, 1)
#   C:       #include <unistd.h>  ...  syscall(7911, 1L);
# It fails harmlessly (ENOSYS); the plugin snapshots every counter. At exit stderr gets
#   insncount: total N                  guest instructions, whole run
#   insncount:   N  /path/of/object     top objects (the file whose code ran)
#   insncount: mark A -> B : N          instructions between consecutive markers A and B
# The program's own output is unchanged and the exit status is its own. Counts are exact for
# single-threaded code: OpenMP and OpenBLAS are set to one thread, and a program with its own
# thread pool must be set to one thread too.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../aarch64-env.sh
source "$HERE/../aarch64-env.sh"
set -euo pipefail
COUNT="$PYPRUNE_A64/count"
CPU="${QEMU_CPU:-cortex-a72}"
VIEW="$COUNT/root-$CPU"
SO="$COUNT/insncount.so"

usage() { sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }
[ $# -ge 1 ] || usage
[ -f "$VIEW/proc/cpuinfo" ] || {
    echo "count.sh: no userland view for QEMU_CPU=$CPU (setup.sh makes cortex-a53, cortex-a72," \
         "cortex-a76)" >&2
    exit 2
}

GUEST_ENV=(env -u PYTHONHOME -u PYTHONSTARTUP
           PYTHONPATH="${A64_PYTHONPATH:+$A64_PYTHONPATH:}$COUNT/site" PYTHONNOUSERSITE=1
           PYTHONHASHSEED=0 PYTHONDONTWRITEBYTECODE=1
           OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1)
PYTHON="$VIEW/usr/bin/python3.11"

mode="$1"
shift
case "$mode" in
    pyc)
        [ $# -ge 1 ] || usage
        # The guest Python itself compiles, so the bytecode is exactly the board's (no plugin).
        exec "${GUEST_ENV[@]}" qemu-aarch64 -cpu "$CPU" -L "$VIEW" "$PYTHON" -m compileall -q "$@" ;;
    py|bin)
        [ -f "$SO" ] || { echo "count.sh: $SO missing: run scripts/arm-count/setup.sh" >&2; exit 2; }
        QEMU=(qemu-aarch64 -cpu "$CPU" -L "$VIEW" -plugin "$SO,${INSNCOUNT_ARGS:-top=12}")
        if [ "$mode" = py ]; then
            exec "${GUEST_ENV[@]}" "${QEMU[@]}" "$PYTHON" "$@"
        fi
        [ $# -ge 1 ] || usage
        exec "${GUEST_ENV[@]}" "${QEMU[@]}" "$@" ;;
    *)
        usage ;;
esac
